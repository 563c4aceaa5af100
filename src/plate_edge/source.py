"""What every frame source shares: its protocol and the two ways it stops delivering frames.

Kept apart from camera.py so sources defined elsewhere (plate_edge.sim.scene) need not import
the capture machinery, and camera.py can open them without an import cycle.
"""
from __future__ import annotations

from typing import Protocol

import numpy as np


class CameraError(RuntimeError):
    """A source that cannot be opened or stopped delivering frames."""


class EndOfStream(Exception):
    """A finite source (file, folder, generated) reached its end and does not loop."""


class FrameSource(Protocol):
    @property
    def pace_fps(self) -> float | None:  # finite sources are paced at this rate; None for live sources
        ...

    def read(self) -> np.ndarray:  # raises CameraError or EndOfStream
        ...

    def close(self) -> None:
        ...
