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
