import pytest

from labkit.hparams.parameters import parameter_table, print_parameter_table
from labkit.hparams.widget import explorer
from labkit.measure import count_parameters
from labkit.models import SmallCNN


def test_parameter_table_adds_up(capsys):
    net = SmallCNN()
    rows = parameter_table(net)
    assert rows[0] == ("features.0.weight", (16, 1, 3, 3), 144)
    assert sum(r[2] for r in rows) == count_parameters(net)
    print_parameter_table(net)
    assert f"{count_parameters(net):,}" in capsys.readouterr().out


def test_the_explorer_trains_once_without_a_click(data, capsys):
    app = explorer(data)
    lr, batch = app.widget.children[0].children
    epochs, kernel = app.widget.children[1].children
    epochs.value, kernel.value = 1, 5
    assert app.train() is None  # a cell ending with it echoes nothing
    assert "k=5" in capsys.readouterr().out and lr.value == 3e-3 and batch.value == 64
    trial = next(iter(app.runs.values()))
    assert trial.hyperparameters.kernel_size == 5 and len(app.runs) == 1


def test_a_click_trains_into_the_output_and_gives_the_button_back(data):
    app = explorer(data)
    app.epochs.value = 1
    app.button.click()
    assert len(app.runs) == 1 and not app.button.disabled and app.button.description == "Train"


def test_the_explorer_needs_a_dataset():
    with pytest.raises(TypeError, match="'data'"):
        explorer("digits")
