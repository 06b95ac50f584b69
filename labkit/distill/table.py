"""The seed sweeps of notebook 07, trained in advance: solo against distilled students over
several seeds (by student size and amount of training data), a grid of temperatures and
weights, and compressed students fine-tuned with and without the teacher. Training all of it
takes minutes, so ``labkit distill build-table`` runs it once (one thread) and writes
data/distill_table.json; the notebook, its widget and ``labkit bench distill`` replay it.

Every accuracy is in percent on the 450 test images, one per seed; the solo and the distilled
run of a seed share their initial weights and batch order, so their difference is a paired
gain, summarized over seeds with ``labkit.seed_interval``.

Serves notebooks/07_knowledge_distillation.ipynb ("Where distillation helps: the stored
sweep", "Temperature and weight", "Distillation repairs compression").

Used by: `labkit distill build-table`, and labkit.distill.bench and labkit.distill.widget, which
replay it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from labkit import store
from labkit._validate import check_bool, check_choice, check_float, check_int
from labkit.compress import Factorize, Prune, QuantizeAware, compress
from labkit.data import load_digits
from labkit.distill.students import gap_recovered, student, teacher_logits, train_student
from labkit.env import using_threads
from labkit.factorize.ranks import COURSE_RANKS
from labkit.measure import count_parameters
from labkit.stats import SeedInterval, seed_interval
from labkit.train import evaluate
from labkit.zoo import load_pretrained

RECIPE = dict(
    teacher="digits_baseline",
    seeds=list(range(8)),
    temperature=2.0,
    weight=0.5,
    lr=1e-2,
    batch_size=64,
    images_per_run=12_000,  # epochs = this / training images (at least 10): equal work
    widths=[4, 6],
    train_sizes=[150, 500, 2000],
    grid=dict(
        width=6, n_train=500, temperatures=[1.0, 2.0, 4.0, 8.0], weights=[0.25, 0.5, 0.75, 1.0]
    ),
    compressed=dict(n_train=300, epochs=3, lr=3e-3, weights=[0.5, 0.9]),
)
# The compressed students: name -> (the compression steps, what they do). A new kind of
# compression is one more line here (labkit.compress has the steps).
COMPRESSIONS = {
    "pruned": ((Prune(0.9),), "90% of the weights removed (global magnitude), masks kept"),
    "qat": ((QuantizeAware(2),), "2-bit weights, quantization-aware training"),
    "factorized": (
        (Factorize(COURSE_RANKS["tucker"], method="tucker"),),
        "Tucker-2 factorized convolutions (notebook 06's ranks)",
    ),
}
COMMAND = "labkit distill build-table"
BUILD_MINUTES = 4  # meta.seconds of the stored table, in whole minutes rounded up (a test checks)


def table_path() -> Path:
    """Where the sweeps are kept: data/distill_table.json."""
    return store.table_path("distill_table.json")


def epochs_for(n_train: int) -> int:
    """Epochs for a student trained on ``n_train`` images: the same number of images seen
    (``RECIPE["images_per_run"]``) whatever the data size, and at least 10 passes.

    Lesson: notebooks/07_knowledge_distillation.ipynb, "Where distillation helps: the stored
    sweep".
    """
    n_train = check_int("n_train", n_train, min_value=1)
    return max(10, round(RECIPE["images_per_run"] / n_train))


@dataclass(frozen=True)
class Gain:
    """Solo against distilled for one setting: accuracies per seed (percent), their means,
    and the paired gain (distilled - solo, points) with its interval over seeds.
    """

    solo: list[float]
    distilled: list[float]
    without: str = "solo"  # what the run without the teacher is called: "alone" when fine-tuned

    @property
    def gain(self) -> SeedInterval:
        """Distilled minus solo, seed by seed (paired), with its 95% interval over seeds."""
        return seed_interval([d - s for s, d in zip(self.solo, self.distilled, strict=True)])

    @property
    def verdict(self) -> str:
        """The gain in words: helps, hurts, or not resolvable with these seeds."""
        g = self.gain
        if not g.excludes_zero:
            return "not resolvable with these seeds"
        return "distillation helps" if g.mean > 0 else "distillation hurts"

    def __str__(self) -> str:
        s, d = seed_interval(self.solo), seed_interval(self.distilled)
        g = self.gain
        return (
            f"{self.without} {s.mean:.2f}%, distilled {d.mean:.2f}%; gain {g.mean:+.2f} points "
            f"(95% CI {g.low:+.2f} to {g.high:+.2f}, {g.n} seeds): {self.verdict}"
        )


class DistillTable:
    """The stored sweeps (see the module docstring), read from data/distill_table.json.

    Lesson: notebooks/07_knowledge_distillation.ipynb, "Where distillation helps: the stored
    sweep".
    """

    def __init__(self, record: dict) -> None:
        self.record = record
        self.meta = record["meta"]
        self.teacher = record["teacher"]
        self._path: Path | None = None

    @property
    def path(self) -> Path:
        """The file the sweeps were read from or written to (data/distill_table.json)."""
        return self._path or table_path()

    @classmethod
    def load(cls, path: Path | None = None) -> DistillTable:
        """Read the sweeps; a missing or damaged file gets a message that says how to restore
        it."""
        path = Path(path or table_path())
        record = store.load_record(path, COMMAND, BUILD_MINUTES)
        try:
            table = cls(record)
            table.students()  # every part present and readable
            table.grid_cell(*table.grid_default())
        except (KeyError, TypeError, ValueError, IndexError) as err:
            raise ValueError(
                f"{path} is damaged ({err!r}). {store.rebuild_hint(COMMAND, BUILD_MINUTES)}"
            ) from None
        table._path = path
        return table

    # ------------------------------------------------------------------ students
    def students(self) -> list[dict]:
        """One entry per (width, n_train): its parameters, epochs and per-seed accuracies."""
        return self.record["students"]

    def student_gain(self, width: int, n_train: int) -> Gain:
        """Solo against distilled for a student ``width`` trained on ``n_train`` images."""
        for row in self.students():
            if row["width"] == width and row["n_train"] == n_train:
                return Gain(row["solo"], row["distilled"])
        sizes = sorted({(r["width"], r["n_train"]) for r in self.students()})
        raise ValueError(f"no stored student with width {width} and n_train {n_train}: {sizes}")

    def size_ratio(self, width: int) -> float:
        """Teacher parameters / student parameters for a student ``width``."""
        row = next(r for r in self.students() if r["width"] == width)
        return self.teacher["n_params"] / row["n_params"]

    # ------------------------------------------------------------------ temperature x weight
    def grid_default(self) -> tuple[float, float]:
        """The first (temperature, weight) cell of the grid."""
        return self.record["grid"]["temperatures"][0], self.record["grid"]["weights"][0]

    def grid_cell(self, temperature: float, weight: float) -> Gain:
        """Solo against distilled at one temperature and weight of the grid."""
        grid = self.record["grid"]
        t = check_choice("temperature", float(temperature), grid["temperatures"])
        w = check_choice("weight", float(weight), grid["weights"])
        i, j = grid["temperatures"].index(t), grid["weights"].index(w)
        return Gain(grid["solo"], grid["distilled"][i][j])

    # ------------------------------------------------------------------ compressed students
    def compressed(self, method: str, weight: float | None = None) -> dict:
        """A compressed student: its accuracy before fine-tuning, per seed after fine-tuning
        alone and with the teacher (at ``weight``: the recipe's first by default), and the
        share of the gap recovered with its interval over seeds."""
        entry = self.record["compressed"][check_choice("method", method, self.methods())]
        weight = self.record["recipe"]["compressed"]["weights"][0] if weight is None else weight
        key = f"{check_float('weight', weight, low=0, high=1):g}"
        check_choice("weight", key, entry["distilled"])
        alone, distilled = entry["alone"], entry["distilled"][key]
        teacher = self.teacher["acc"]
        shares = [gap_recovered(teacher, a, d) for a, d in zip(alone, distilled, strict=True)]
        return dict(
            method=method,
            what=entry["what"],
            weight=float(weight),
            before=entry["before"],
            alone=alone,
            distilled=distilled,
            gain=Gain(alone, distilled, "alone"),
            gap_recovered=seed_interval(shares),
        )

    def methods(self) -> list[str]:
        """The names of the stored compressed students."""
        return list(self.record["compressed"])


def _stored_parameters(method: str, net) -> int:
    # the parameters a compressed model must store: a pruned model's zeros are not counted
    # (a 2-bit model's zeros are codes like any other: all its parameters are stored)
    if method == "pruned":
        return sum(int((p != 0).sum()) for p in net.parameters())
    return count_parameters(net)


def _acc(net, data) -> float:
    return round(evaluate(net, data.test).percent, 4)


def build_table(
    progress: bool = True, path: Path | None = None, seeds: list[int] | None = None
) -> DistillTable:
    """Train every run of the sweeps with one thread and write the table atomically
    (``labkit distill build-table``).
    """
    seeds = RECIPE["seeds"] if seeds is None else seeds
    if isinstance(seeds, str) or not isinstance(seeds, list | tuple) or not seeds:
        raise TypeError(f"argument 'seeds' must be a non-empty list of seeds, got {seeds!r}")
    seeds = [check_int("seeds", s, min_value=0, max_value=2**32 - 1) for s in seeds]
    check_bool("progress", progress)
    with using_threads(1):  # leave the other cores to whoever shares the machine
        return _build(seeds, progress, Path(path or table_path()))


def _build(seeds: list[int], progress: bool, path: Path) -> DistillTable:
    start = time.perf_counter()
    data = load_digits()
    teacher = load_pretrained(RECIPE["teacher"]).eval()
    targets = teacher_logits(teacher, data.train)
    T, w0, lr = RECIPE["temperature"], RECIPE["weight"], RECIPE["lr"]
    bar = tqdm(desc="distillation sweeps", disable=not progress, total=0)

    def run(width: int, n: int, seed: int, weight: float | None, temperature: float = T):
        net = student(width, seed=seed)
        train = data.train.subset(n)
        train_student(
            net,
            train,
            None if weight is None else targets[:n],
            temperature=temperature,
            weight=w0 if weight is None else weight,
            epochs=epochs_for(n),
            lr=lr,
            seed=seed,
            progress=False,
        )
        bar.update()
        return _acc(net, data)

    students = []
    bar.total += len(RECIPE["widths"]) * len(RECIPE["train_sizes"]) * len(seeds) * 2
    for width in RECIPE["widths"]:
        for n in RECIPE["train_sizes"]:
            students.append(
                dict(
                    width=width,
                    n_train=n,
                    epochs=epochs_for(n),
                    n_params=count_parameters(student(width)),
                    solo=[run(width, n, s, None) for s in seeds],
                    distilled=[run(width, n, s, w0) for s in seeds],
                )
            )
    g = RECIPE["grid"]
    bar.total += len(seeds) * (1 + len(g["temperatures"]) * len(g["weights"]))
    grid = dict(
        width=g["width"],
        n_train=g["n_train"],
        epochs=epochs_for(g["n_train"]),
        temperatures=g["temperatures"],
        weights=g["weights"],
        solo=[run(g["width"], g["n_train"], s, None) for s in seeds],
        distilled=[
            [[run(g["width"], g["n_train"], s, wt, t) for s in seeds] for wt in g["weights"]]
            for t in g["temperatures"]
        ],
    )
    c = RECIPE["compressed"]
    train = data.train.subset(c["n_train"])
    compressed = {}
    bar.total += len(COMPRESSIONS) * len(seeds) * (1 + len(c["weights"]))
    for method, (steps, what) in COMPRESSIONS.items():

        def tune(seed: int, weight: float | None, steps=steps) -> float:
            model = compress(teacher, steps)
            train_student(
                model.net,
                train,
                None if weight is None else targets[: c["n_train"]],
                temperature=T,
                weight=w0 if weight is None else weight,
                epochs=c["epochs"],
                lr=c["lr"],
                seed=seed,
                after_step=model.after_step,
                progress=False,
            )
            bar.update()
            return _acc(model.finish(), data)

        start_net = compress(teacher, steps).finish()
        compressed[method] = dict(
            what=what,
            n_params=_stored_parameters(method, start_net),
            before=_acc(start_net, data),
            alone=[tune(s, None) for s in seeds],
            distilled={f"{wt:g}": [tune(s, wt) for s in seeds] for wt in c["weights"]},
        )
    bar.close()
    record = dict(
        meta=store.build_meta(
            COMMAND,
            start,
            dataset=dict(name="digits", **data.details),
            test_images=len(data.test),
            accuracy="percent of the test images, one value per seed",
        ),
        recipe=RECIPE,
        teacher=dict(
            name=RECIPE["teacher"],
            n_params=count_parameters(teacher),
            acc=_acc(teacher, data),
        ),
        seeds=seeds,
        students=students,
        grid=grid,
        compressed=compressed,
    )
    table = DistillTable(record)
    table._path = store.save_record(record, path)
    return table
