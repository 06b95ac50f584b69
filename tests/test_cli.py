import subprocess
import sys

from labkit.cli import main


def test_doctor_reports_a_ready_machine(capsys):
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "Ready" in out and "VNNI=" in out and "model zoo: checkpoints present" in out


def test_zoo_verify(capsys):
    assert main(["zoo", "verify"]) == 0
    assert "baseline: ok" in capsys.readouterr().out


def test_the_console_script_is_installed_and_rejects_unknown_commands():
    bin_dir = __import__("pathlib").Path(sys.executable).parent
    done = subprocess.run([bin_dir / "labkit", "fly"], capture_output=True, text=True)
    assert done.returncode == 2 and "invalid choice" in done.stderr


def test_the_benchmarks_and_tables_are_found_in_the_lesson_folders(capsys):
    from labkit import lessons

    assert main(["bench", "--list"]) == 0
    listed = capsys.readouterr().out.split()
    assert listed == list(lessons.benchmarks()) and "prune" in listed and "search" in listed
    assert main(["tables"]) == 0
    assert capsys.readouterr().out.split() == list(lessons.stored_tables())
    numbers = [lesson.number for lesson in lessons.lessons()]
    assert numbers == sorted(numbers) and numbers[0] == 1


def test_a_new_lesson_folder_is_found_without_being_listed_anywhere(tmp_path, monkeypatch):
    from labkit import lessons

    folder = tmp_path / "capstone"
    folder.mkdir()
    (folder / "__init__.py").write_text('"""A new lesson."""\n\nNOTEBOOK = "08_capstone"\n')
    (folder / "bench.py").write_text('"""``labkit bench capstone``: chosen models per device."""\n')
    (folder / "table.py").write_text('"""The stored sweep."""\n\nBUILD_MINUTES = 9\n')
    (tmp_path / "helpers").mkdir()  # a folder without NOTEBOOK is no lesson
    (tmp_path / "helpers" / "__init__.py").write_text("")
    monkeypatch.setattr(lessons, "PACKAGE", tmp_path)
    found = lessons.lessons()
    assert [lesson.name for lesson in found] == ["capstone"] and found[0].number == 8
    assert list(lessons.benchmarks()) == ["capstone"] and lessons.build_minutes(found[0]) == 9
    assert lessons.summary_of(found[0], "bench").startswith("``labkit bench capstone``")


def test_a_benchmark_refuses_an_option_it_does_not_have(capsys):
    import pytest

    with pytest.raises(SystemExit):
        main(["bench", "search", "--quick"])  # search has --repeats, not --quick
    assert "unrecognized arguments: --quick" in capsys.readouterr().err
