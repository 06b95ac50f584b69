"""Shared fixtures; and the suite runs offline: any connection beyond this machine fails.

LABKIT_NO_NETWORK=1 is inherited by the notebook kernels the tests start, where
``labkit.setup()`` installs the same guard; so is LABKIT_STRICT_CLAIMS=1, under which a claim a
notebook states and its run contradicts stops the run (a learner gets a note instead).
"""

import os

os.environ["LABKIT_NO_NETWORK"] = "1"
os.environ["LABKIT_STRICT_CLAIMS"] = "1"  # a stated result that fails raises, in every lane
os.environ["LABKIT_ONLINE"] = "0"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("MPLBACKEND", "Agg")

import matplotlib  # noqa: E402
import pytest  # noqa: E402

matplotlib.use("Agg")

from labkit.env import _install_network_guard  # noqa: E402

_install_network_guard()


@pytest.fixture(scope="session")
def data():
    from labkit.data import load_digits

    return load_digits()


@pytest.fixture(scope="session")
def baseline():
    from labkit.zoo import load_pretrained

    return load_pretrained("baseline")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
