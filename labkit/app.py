"""The base of every interactive app in the course: controls above an output area; moving a
control (or pressing the app's button) redraws the output.

An app is a small class with ``widget`` (the ipywidgets box; a notebook displays the app
itself), ``update()`` (what a control's change calls), ``draw()`` (each app's own picture and
numbers) and ``state`` (the numbers last shown, for tests). Each lesson keeps its app beside
its code, in ``labkit/<lesson>/widget.py``.
"""

from __future__ import annotations

import time

import matplotlib.pyplot as plt


class App:
    """Controls above an output area; any control's change redraws the output."""

    def __init__(self, controls: list) -> None:
        import ipywidgets as w  # the widget library loads with the first app

        self.output = w.Output()
        self.widget = w.VBox([w.HBox(controls), self.output])
        self.state: dict = {}
        for control in controls:
            control.observe(lambda _change: self.update(), names="value")

    def update(self) -> None:
        """Redraw the output for the controls' current values."""
        from IPython.display import clear_output

        start = time.perf_counter()
        with self.output:
            clear_output(wait=True)
            self.draw()
            plt.show()
        self.state["seconds"] = time.perf_counter() - start

    def draw(self) -> None:  # each app draws its picture and prints its numbers
        raise NotImplementedError

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)
        self.update()
