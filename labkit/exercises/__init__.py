"""One exercise module per notebook: ``from labkit.exercises import lab01``.

Each question has ``check(answer)``, ``hint()`` and ``solution()``; ``____`` is the blank.
"""

from labkit.check import ____

__all__ = ["____"]
