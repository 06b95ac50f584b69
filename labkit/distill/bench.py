"""``labkit bench distill``: solo against distilled students, and compressed students with and
without the teacher, over seeds; the teacher is the zoo baseline.

The seed sweeps are replayed from data/distill_table.json (``labkit distill build-table``: a
few minutes with one thread); a live check retrains one seed of one setting and reports it
beside the stored value, so a changed machine or library shows.

Rows (all ``model`` "course"): ``method`` "solo" and "distilled" (one pair per student
``width`` and ``n_train``), then "pruned", "qat" and "factorized", each with ``distilled``
false and then true at every stored weight (0.5 and 0.9).
Technique-specific keys: ``distilled`` (bool), ``acc`` (percent, mean over seeds), ``acc_ci``
(95% interval over seeds), ``seeds``, ``teacher_size_ratio`` (teacher parameters / student
parameters; for the compressed students, the parameters they store, counted when the table
was built: nonzero ones for the pruned student; the QAT student has the teacher's count and
stores 2-bit weights: ``bits``), ``gain_ci`` (distilled minus solo or alone, paired
by seed, 95% interval, points), ``gap_recovered`` and ``gap_recovered_ci`` (compressed rows
with the teacher), ``width``, ``n_train``, ``epochs``, ``temperature``, ``weight``. The JSON's
top level adds ``live``: the live check.

Used by: `labkit bench distill` and `make bench`.
"""

from __future__ import annotations

from labkit.bench.common import course_fixture, envelope
from labkit.distill.students import student, teacher_logits, train_student
from labkit.distill.table import RECIPE, DistillTable, epochs_for
from labkit.stats import seed_interval
from labkit.train import evaluate


def _acc_fields(values: list[float]) -> dict:
    interval = seed_interval(values)
    return dict(
        acc=round(interval.mean, 2),
        acc_ci=[round(interval.low, 2), round(interval.high, 2)],
        seeds=len(values),
    )


def _ci(interval) -> list[float]:
    return [round(interval.low, 3), round(interval.high, 3)]


# No real-size rows: the sweeps are about training, which a model with random weights cannot show.
UNITS = {
    "acc_ci": "percent, 95% t-interval of the mean accuracy over seeds",
    "teacher_size_ratio": "teacher parameters / student parameters",
    "gain_ci": "percentage points, 95% t-interval over seeds of distilled minus alone (paired)",
    "gap_recovered": "(acc distilled - acc alone) / (acc teacher - acc alone), mean over seeds",
    "gap_recovered_ci": "95% t-interval over seeds of gap_recovered",
    "param_ratio": "baseline parameters / method parameters",
}
COLUMNS = [("param_ratio", "params x", "{:.2f}")]
OPTIONS = {"--quick": dict(action="store_true", help="a shorter live run on fewer images (tests)")}


def run(progress: bool = False, quick: bool = False) -> dict:
    """Replay the stored sweeps and retrain one seed live (``quick``: a shorter live run on
    fewer images).
    """
    table = DistillTable.load()
    fx = course_fixture()
    teacher_params = table.teacher["n_params"]
    T, w = RECIPE["temperature"], RECIPE["weight"]
    rows = []
    for entry in table.students():
        gain = table.student_gain(entry["width"], entry["n_train"])
        common = dict(
            model="course",
            width=entry["width"],
            n_train=entry["n_train"],
            epochs=entry["epochs"],
            teacher_size_ratio=round(teacher_params / entry["n_params"], 2),
        )
        rows.append(dict(method="solo", distilled=False, **common, **_acc_fields(gain.solo)))
        rows.append(
            dict(
                method="distilled",
                distilled=True,
                **common,
                temperature=T,
                weight=w,
                **_acc_fields(gain.distilled),
                gain_ci=_ci(gain.gain),
            )
        )
    c = table.record["recipe"]["compressed"]
    for method in table.methods():
        stored = table.record["compressed"][method]
        # parameters the compressed model stores (nonzero ones, counted when the table was built)
        ratio = round(teacher_params / stored["n_params"], 2)
        common = dict(model="course", n_train=c["n_train"], epochs=c["epochs"], note=stored["what"])
        if method == "qat":
            common["bits"] = 2
        rows.append(
            dict(
                method=method,
                distilled=False,
                teacher_size_ratio=ratio,
                **common,
                **_acc_fields(stored["alone"]),
            )
        )
        for weight in c["weights"]:  # every stored weight: 0.5 and the notebook's 0.9
            entry = table.compressed(method, weight)
            rows.append(
                dict(
                    method=method,
                    distilled=True,
                    teacher_size_ratio=ratio,
                    temperature=T,
                    weight=entry["weight"],
                    **common,
                    **_acc_fields(entry["distilled"]),
                    gain_ci=_ci(entry["gain"].gain),
                    gap_recovered=round(entry["gap_recovered"].mean, 3),
                    gap_recovered_ci=_ci(entry["gap_recovered"]),
                )
            )
    n_train = 150 if quick else RECIPE["grid"]["n_train"]
    width = RECIPE["grid"]["width"]
    train = fx.data.train.subset(n_train)
    targets = teacher_logits(fx.baseline, train)
    live = {"width": width, "n_train": n_train, "seed": 0, "stored": None}
    for name, way in (("solo", None), ("distilled", targets)):
        net = student(width, seed=0)
        train_student(
            net,
            train,
            way,
            temperature=T,
            weight=w,
            epochs=epochs_for(n_train),
            seed=0,
            progress=progress,
            desc=f"live {name}",
        )
        live[name] = round(evaluate(net, fx.data.test).percent, 2)
    stored = [r for r in table.students() if r["width"] == width and r["n_train"] == n_train]
    if stored:
        live["stored"] = {"solo": stored[0]["solo"][0], "distilled": stored[0]["distilled"][0]}
    baseline = {
        "model": "course",
        "role": "teacher",
        "acc": round(fx.baseline_accuracy.percent, 2),
        "n_params": teacher_params,
    }
    return envelope("distill", baseline, rows, UNITS, live=live, table=table.meta)
