"""Reference timings: recorded per probe and thread count, read back as one line for a notebook,
with the learner's value placed honestly inside, below or above the recorded range."""

import json

import pytest

from labkit import lessons
from labkit import reference as R


@pytest.fixture
def stored(tmp_path, monkeypatch):
    path = tmp_path / "reference_timings.json"
    monkeypatch.setattr(R, "reference_path", lambda: path)
    return path


def test_recording_writes_a_range_per_probe_and_thread_count(stored, monkeypatch):
    calls = iter(range(100))
    probes = {"03.slim_speedup": R.Probe("test probe", "x", lambda: 1.0 + next(calls) / 10)}
    monkeypatch.setattr(lessons, "probes", lambda: probes)
    result = lessons.record_reference_timings(repeats=2, progress=False, path=stored)
    ranges = json.loads(stored.read_text())["probes"]["03.slim_speedup"]["ranges"]
    assert ranges == result["probes"]["03.slim_speedup"]["ranges"]
    assert ranges["2 cores"] == [1.0, 1.1] and ranges["1 core (as on Binder)"] == [1.2, 1.3]
    assert "labkit reference record" in result["how"] and result["machine"]["cpu"]


def test_recording_one_probe_keeps_the_others(stored, monkeypatch):
    probes = {
        "03.slim_speedup": R.Probe("a", "x", lambda: 2.0),
        "01.explorer_run_s": R.Probe("b", "s", lambda: 3.0),
    }
    monkeypatch.setattr(lessons, "probes", lambda: probes)
    lessons.record_reference_timings(repeats=1, progress=False, path=stored)
    probes["03.slim_speedup"] = R.Probe("a", "x", lambda: 5.0)
    lessons.record_reference_timings(
        repeats=1, progress=False, path=stored, only=["03.slim_speedup"]
    )
    kept = json.loads(stored.read_text())["probes"]
    assert kept["03.slim_speedup"]["ranges"]["2 cores"] == [5.0, 5.0]
    assert kept["01.explorer_run_s"]["ranges"]["2 cores"] == [3.0, 3.0]
    with pytest.raises(ValueError, match="argument 'only'"):
        lessons.record_reference_timings(progress=False, path=stored, only=["99.nothing"])


def _write(stored):
    stored.write_text(
        json.dumps(
            {
                "machine": {"cpu": "reference CPU"},
                "probes": {
                    "03.slim_speedup": {
                        "what": "slim",
                        "unit": "x",
                        "ranges": {"2 cores": [1.6, 1.9], "1 core (as on Binder)": [1.4, 1.6]},
                    },
                    "01.explorer_run_s": {
                        "what": "run",
                        "unit": "s",
                        "ranges": {"2 cores": [2.0, 3.0]},
                    },
                },
            }
        )
    )


def test_the_line_places_the_learners_value_without_widening_the_range(stored):
    _write(stored)
    line = R.reference_timing("03.slim_speedup")
    assert "1.60x-1.90x" in line and "reference CPU" in line
    assert "inside the range 1.40x-1.90x" in R.reference_timing("03.slim_speedup", 1.7)
    # just outside the recorded range is outside: no silent margin
    assert "below the whole range" in R.reference_timing("03.slim_speedup", 1.35)
    assert "slower than" in R.reference_timing("03.slim_speedup", 1.35)
    assert "faster than" in R.reference_timing("03.slim_speedup", 2.0)
    assert "faster than" in R.reference_timing("01.explorer_run_s", 1.9)
    assert "slower than" in R.reference_timing("01.explorer_run_s", 3.1)
    with pytest.raises(ValueError, match="argument 'key'"):
        R.reference_timing("99.nothing")
    with pytest.raises(TypeError, match="argument 'key'"):
        R.reference_timing(3)
    with pytest.raises(ValueError, match="argument 'value'"):
        R.reference_timing("03.slim_speedup", float("nan"))


def test_without_recorded_measurements_the_line_says_how_to_make_them(stored):
    assert "labkit reference record" in R.reference_timing("03.slim_speedup", 1.2)


def test_the_shipped_measurements_cover_every_probe():
    stored = json.loads(R.reference_path().read_text())
    assert set(stored["probes"]) == set(lessons.probes())
    for probe in stored["probes"].values():
        assert set(probe["ranges"]) == set(R.THREADS)
        assert all(0 < lo <= hi for lo, hi in probe["ranges"].values())
