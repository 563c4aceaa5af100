"""What every frame source shares: its protocol and the two ways it stops delivering frames.

Kept apart from camera.py so sources defined elsewhere (plate_edge.sim.scene) need not import
the capture machinery, and camera.py can open them without an import cycle. The `generated`
source's settings live here too, not in plate_edge.sim: a configuration with a generated camera
is loaded and checked without the `sim` extra (Pillow), which only opening the camera needs.
"""
from __future__ import annotations

from typing import Annotated, Protocol

import numpy as np
from pydantic import AfterValidator, Field, model_validator

from .settings import Settings, Text


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


MAX_WIDTH, MAX_HEIGHT = 7680, 4320      # 8K: beyond it a frame is a mistake, not a camera


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("empty plate text: every plate needs characters to render")
    return text


PlateText = Annotated[Text, AfterValidator(_not_blank)]


class GeneratedSourceConfig(Settings):
    """The `generated` camera source: synthetic plates moving across a scene (demo, tests, bench)."""
    plates: list[PlateText] = Field(default_factory=lambda: ["4071358", "926081", "1234567"], min_length=1)
    width: int = Field(960, ge=64, le=MAX_WIDTH)
    height: int = Field(540, ge=64, le=MAX_HEIGHT)
    fps: float = Field(15.0, gt=0, le=240)
    seconds_per_plate: float = Field(2.0, gt=0, le=3600)  # time a plate takes to cross the scene
    gap_s: float = Field(0.5, ge=0, le=3600)              # empty scene between two plates
    plate_width: int = Field(220, ge=32, le=MAX_WIDTH)    # rendered plate width in pixels
    seed: int = Field(0, ge=0)
    loop: bool = False                    # start over after the last plate (else the source ends)

    @model_validator(mode="after")
    def _fits(self) -> GeneratedSourceConfig:
        if self.plate_width > 0.9 * self.width or self.plate_width > self.height:
            raise ValueError(f"plate_width: {self.plate_width} px does not fit a {self.width}x{self.height} "
                             "scene (at most 90% of width and at most height)")
        return self
