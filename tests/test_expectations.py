import json

import pytest

from labkit import expectations as E


@pytest.fixture
def stored(tmp_path, monkeypatch):
    path = tmp_path / "expectations.json"
    monkeypatch.setattr(E, "expectations_path", lambda: path)
    return path


def test_recording_writes_a_range_per_probe_and_thread_count(stored, monkeypatch):
    calls = iter(range(100))
    probes = {"03.slim_speedup": E.Probe("test probe", "x", lambda: 1.0 + next(calls) / 10)}
    monkeypatch.setattr(E, "PROBES", probes)
    result = E.record(repeats=2, progress=False, path=stored)
    ranges = json.loads(stored.read_text())["probes"]["03.slim_speedup"]["ranges"]
    assert ranges == result["probes"]["03.slim_speedup"]["ranges"]
    assert ranges["2 cores"] == [1.0, 1.1] and ranges["1 core (as on Binder)"] == [1.2, 1.3]
    assert "labkit expect record" in result["how"] and result["machine"]["cpu"]


def test_the_line_places_the_learners_value(stored):
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
    assert "1.60x-1.90x" in E.expected("03.slim_speedup") and "reference CPU" in E.expected(
        "03.slim_speedup"
    )
    assert "within that range" in E.expected("03.slim_speedup", 1.7)
    assert "slower than that" in E.expected("03.slim_speedup", 0.5)
    assert "faster than that" in E.expected("01.explorer_run_s", 0.5)
    assert "slower than that" in E.expected("01.explorer_run_s", 9.0)
    with pytest.raises(ValueError, match="argument 'key'"):
        E.expected("99.nothing")


def test_without_recorded_measurements_the_line_says_how_to_make_them(stored):
    assert "labkit expect record" in E.expected("03.slim_speedup", 1.2)


def test_the_shipped_measurements_cover_every_probe():
    stored = json.loads(E.expectations_path().read_text())
    assert set(stored["probes"]) == set(E.PROBES)
    for probe in stored["probes"].values():
        assert set(probe["ranges"]) == set(E.THREADS)
        assert all(0 < lo <= hi for lo, hi in probe["ranges"].values())
