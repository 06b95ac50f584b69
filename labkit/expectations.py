"""What a learner should expect a timing to be, from measurements kept in the repository.

A timing alone does not tell a learner whether theirs is normal. `labkit expect record` runs the
same small measurements the notebooks make (the *probes* below), several times, on the machine
it runs on, with 2 threads (a typical 2-core laptop) and with 1 thread (Binder gives one CPU),
and writes the ranges, with the machine and the command, to data/expectations.json. A notebook
then prints one line beside its own measurement: ``labkit.expected("03.slim_speedup", value)``.

Introduced in notebooks/00_welcome.ipynb, "The model zoo".
"""

from __future__ import annotations

import copy
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from labkit._validate import check_choice, check_float, check_int
from labkit.amp import step_speedup
from labkit.data import data_dir, load_digits
from labkit.deploy import ptq_int8, time_float32_and_int8
from labkit.distill import student, time_epochs
from labkit.env import versions
from labkit.factorize import factorize_model
from labkit.hardware import cpu_features
from labkit.measure import compare_latency, measure_latency
from labkit.models import create_model, wide_block
from labkit.prune import apply_masks, global_magnitude_masks, prune_channels
from labkit.rank_choice import COURSE_RANKS, choose_ranks, time_layers, time_ranks, wide_convs
from labkit.train import train_small_cnn
from labkit.zoo import load_pretrained

THREADS = {"2 cores": 2, "1 core (as on Binder)": 1}


@dataclass(frozen=True)
class Probe:
    """One measurement a notebook makes: what it measures, its unit, and how.

    Used by: `labkit expect record` and ``labkit.expected``.
    """

    what: str
    unit: str  # "ms", "s" or "x" (a speed-up: baseline time / method time)
    measure: Callable[[], float]


def _latency_one_image() -> float:
    data = load_digits()
    net = load_pretrained("baseline")
    return measure_latency(net, data.test.X[:1], runs=30).median_ms


def _explorer_run() -> float:
    data = load_digits().with_train_subset(1000)
    return train_small_cnn(data, epochs=4, progress=False).seconds


def _speedup_of(make: Callable[[torch.nn.Module, torch.Tensor], torch.nn.Module]) -> float:
    data = load_digits()
    base = load_pretrained("baseline")
    batch = data.test.X[:256]
    other = make(base, batch)
    return (
        compare_latency({"base": base, "other": other}, batch, rounds=5)
        .ratio("other", "base")
        .median
    )


def _slim(base: torch.nn.Module, batch: torch.Tensor) -> torch.nn.Module:
    return prune_channels(base, 0.5, batch[:1]).eval()


def _zeros(base: torch.nn.Module, batch: torch.Tensor) -> torch.nn.Module:
    net = copy.deepcopy(base)
    return apply_masks(net, global_magnitude_masks(net, 0.9)).eval()


def _int8_speedup(block: bool) -> float:
    """int8 against float32, both compiled (0 where this machine cannot compile them)."""
    if block:
        net, example = wide_block()
        calibration = [torch.randn(8, *example.shape[1:]).relu() for _ in range(2)]
    else:
        data = load_digits()
        net, example, calibration = (
            load_pretrained("baseline"),
            data.test.X[:256],
            data.train.X[:256],
        )
    timing = time_float32_and_int8(net, ptq_int8(net, calibration), example, verbose=False)
    return timing.int8_speedup.median if timing.int8_speedup else 0.0


def _factorized_course_speedup() -> float:
    base, one_image = load_pretrained("baseline"), load_digits().test.X[:1]
    tucker = factorize_model(base, COURSE_RANKS["tucker"], "tucker").eval()
    timing = compare_latency({"base": base, "tucker": tucker}, one_image, rounds=3, runs=20)
    return timing.ratio("tucker", "base").median


def _resnet_layer_speedup(whole_model: bool) -> float:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as notebook 06 times them, whatever the thread setting
    try:
        return _resnet_speedup_one_thread(whole_model)
    finally:
        torch.set_num_threads(threads)


def _resnet_speedup_one_thread(whole_model: bool) -> float:
    net, image = create_model("resnet18", seed=0).eval(), torch.randn(1, 3, 224, 224)
    convs = wide_convs(net)
    if not whole_model:  # layer4.0.conv2 at a quarter of its 512 channels
        x = torch.randn(1, 512, 7, 7)
        return time_ranks(convs["layer4.0.conv2"], x, [128], "tucker", 2, 3)[0].measured.median
    options = time_layers(net, image, list(convs), progress=False)
    params = {name: conv.weight.numel() for name, conv in convs.items()}
    chosen = factorize_model(net, choose_ranks(options, params, 0.25, 1.2), "tucker").eval()
    timing = compare_latency({"base": net, "chosen": chosen}, image, rounds=3, runs=3)
    return timing.ratio("chosen", "base").median


def _distilled_epoch_ratio() -> float:
    seconds = time_epochs(
        load_pretrained("baseline").eval(), student(6), load_digits().train.subset(1000)
    )
    return statistics.median(seconds["distilled"]) / statistics.median(seconds["plain"])


PROBES: dict[str, Probe] = {
    "00.latency_one_image_ms": Probe(
        "the baseline's latency on one image, eager", "ms", _latency_one_image
    ),
    "01.explorer_run_s": Probe("one explorer run: 4 epochs on 1,000 images", "s", _explorer_run),
    "02.live_evaluation_s": Probe(
        "one live evaluation: 3 epochs on 1,000 images",
        "s",
        lambda: (
            train_small_cnn(load_digits().with_train_subset(1000), epochs=3, progress=False).seconds
        ),
    ),
    "03.slim_speedup": Probe(
        "half the channels removed vs the baseline, 256 images, eager",
        "x",
        lambda: _speedup_of(_slim),
    ),
    "03.zeros_speedup": Probe(
        "90% zeros vs the baseline, 256 images, eager", "x", lambda: _speedup_of(_zeros)
    ),
    "04.int8_course_speedup": Probe(
        "int8 vs float32, both compiled, the course model on 256 images",
        "x",
        lambda: _int8_speedup(block=False),
    ),
    "04.int8_block_speedup": Probe(
        "int8 vs float32, both compiled, a 256-channel block on one image",
        "x",
        lambda: _int8_speedup(block=True),
    ),
    "05.bf16_step_speedup": Probe(
        "bfloat16 autocast vs float32, one training step of a 3-layer MLP (512 units, 256 inputs)",
        "x",
        lambda: step_speedup("bfloat16"),
    ),
    "05.fp16_step_speedup": Probe(
        "float16 autocast + scaler vs float32, the same training step",
        "x",
        lambda: step_speedup("float16_scaled"),
    ),
    "06.course_tucker_speedup_one_image": Probe(
        "the course model with Tucker-2 ranks vs the baseline, one image, eager",
        "x",
        _factorized_course_speedup,
    ),
    "06.resnet_layer_speedup": Probe(
        "resnet18 layer4.0.conv2, Tucker-2 at rank 128 vs the original, 1 image, 1 thread",
        "x",
        lambda: _resnet_layer_speedup(whole_model=False),
    ),
    "06.resnet_measured_speedup": Probe(
        "resnet18, ranks chosen from measured times vs the original, 1 image, 1 thread",
        "x",
        lambda: _resnet_layer_speedup(whole_model=True),
    ),
    "07.distilled_epoch_ratio": Probe(
        "a distilled epoch (teacher's logits looked up) / a plain epoch, 1,000 images",
        "x",
        _distilled_epoch_ratio,
    ),
}


def expectations_path() -> Path:
    """data/expectations.json.

    Lesson: notebooks/00_welcome.ipynb, "The model zoo".
    """
    return data_dir() / "expectations.json"


def record(
    repeats: int = 3,
    progress: bool = True,
    path: Path | None = None,
    only: list[str] | None = None,
) -> dict:
    """Run every probe ``repeats`` times with 2 threads and with 1, and write the ranges with the
    machine and the command to data/expectations.json (``labkit expect record``). With ``only``
    (probe keys), measure just those and keep the file's other probes as they were.

    Used by: `labkit expect record`.
    """
    repeats = check_int("repeats", repeats, min_value=1, max_value=20)
    keys = list(PROBES) if only is None else [check_choice("only", k, PROBES) for k in only]
    target = Path(path or expectations_path())
    if only is not None and not target.exists():
        raise FileNotFoundError(f"{target} does not exist yet: record every probe first")
    before = torch.get_num_threads()
    results: dict[str, dict] = {}
    try:
        for key in keys:
            probe = PROBES[key]
            results[key] = {"what": probe.what, "unit": probe.unit, "ranges": {}}
            for label, threads in THREADS.items():
                torch.set_num_threads(threads)
                values = []
                for _ in range(repeats):
                    start = time.perf_counter()
                    values.append(float(probe.measure()))
                    if progress:
                        print(
                            f"{key} [{label}]: {values[-1]:.3g} {probe.unit} "
                            f"({time.perf_counter() - start:.0f} s)"
                        )
                results[key]["ranges"][label] = [round(min(values), 3), round(max(values), 3)]
    finally:
        torch.set_num_threads(before)
    cpu = cpu_features()
    if only is not None:
        kept = json.loads(target.read_text())["probes"]
        results = {
            k: results[k] if k in results else kept[k] for k in PROBES if k in kept or k in results
        }
    record_ = {
        "how": f"labkit expect record --repeats {repeats}: each probe run {repeats} times per "
        "thread count; the lowest and highest value kept",
        "machine": {"cpu": cpu.name, "features": cpu.summary(), "torch": versions()["torch"]},
        "probes": results,
    }
    target.write_text(json.dumps(record_, indent=1) + "\n")
    return record_


def expected(key: str, value: float | None = None) -> str:
    """One line for a notebook: the range measured for ``key`` on the course's reference machine
    with 2 cores and with 1 core (as on Binder), and where ``value`` (the learner's own) falls.

    Lesson: notebooks/00_welcome.ipynb, "The model zoo".
    """
    check_choice("key", key, PROBES)
    path = expectations_path()
    if not path.exists():
        return f"(no reference measurements: run `labkit expect record` to make {path.name})"
    stored = json.loads(path.read_text())
    probe = stored["probes"].get(key)
    if probe is None:
        return f"(no reference measurement for {key}: run `labkit expect record`)"
    unit = probe["unit"]

    def show(v: float) -> str:
        return f"{v:.2f}x" if unit == "x" else f"{v:.3g} {unit}"

    ranges = "; ".join(
        f"{label}: {show(lo)}-{show(hi)}" for label, (lo, hi) in probe["ranges"].items()
    )
    line = f"Expected ({probe['what']}; measured on {stored['machine']['cpu']}): {ranges}."
    if value is not None:
        value = check_float("value", value)
        lo = min(r[0] for r in probe["ranges"].values())
        hi = max(r[1] for r in probe["ranges"].values())
        where = (
            "within that range"
            if lo * 0.8 <= value <= hi * 1.25
            else (
                "slower than that"
                if (value > hi if unit != "x" else value < lo)
                else "faster than that"
            )
        )
        line += f" Yours: {show(value)}, {where}."
    return line
