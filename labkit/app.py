"""The base of every interactive app in the course: controls above an output area; moving a
control (or, for an app that trains, pressing its button) redraws the output.

An app is a small class with ``widget`` (the ipywidgets box; a notebook displays the app
itself), ``update()`` (what a control's change calls), ``draw()`` (each app's own picture and
numbers) and ``state`` (the numbers last shown, for tests). Each lesson keeps its app beside
its code, in ``labkit/<lesson>/widget.py``.

Used by: every lesson's app (labkit/hparams/widget.py, labkit/search/widget.py,
labkit/prune/widget.py, labkit/quantize/widget.py, labkit/precision/widget.py,
labkit/factorize/widget.py, labkit/distill/widget.py).
"""

from __future__ import annotations

import time

import matplotlib.pyplot as plt


class App:
    """Controls above an output area. Without a ``button``, any control's change redraws the
    output, and the app draws as soon as it is shown; with one (an app whose drawing takes
    seconds, such as training), the controls only choose and the button draws, showing
    ``busy`` on itself meanwhile. ``controls`` is a list, or a list of rows (lists)."""

    def __init__(self, controls: list, button=None, busy: str = "Working...") -> None:
        import ipywidgets as w  # the widget library loads with the first app

        rows = controls if controls and isinstance(controls[0], list | tuple) else [controls]
        self.output = w.Output()
        self.button, self._busy_text = button, busy
        self.widget = w.VBox(
            [w.HBox(list(row)) for row in rows] + ([button] if button else []) + [self.output]
        )
        self.state: dict = {}
        if button is None:
            for row in rows:
                for control in row:
                    control.observe(lambda _change: self.update(), names="value")
        else:
            button.on_click(lambda _button: self._pressed())

    def update(self) -> None:
        """Redraw the output for the controls' current values."""
        from IPython.display import clear_output

        start = time.perf_counter()
        with self.output:
            clear_output(wait=True)
            self.draw()
            plt.show()
        self.state["seconds"] = time.perf_counter() - start

    def draw(self) -> None:
        """Draw the picture and print the numbers for the controls' current values."""
        raise NotImplementedError  # each app draws its own

    def _pressed(self) -> None:
        label = self.button.description
        self.button.disabled, self.button.description = True, self._busy_text
        try:
            self.update()
        finally:
            self.button.disabled, self.button.description = False, label

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)
        if self.button is None:
            self.update()
