"""plate-edge: an edge licence-plate reader.

    from plate_edge import PlateReader

    reader = PlateReader.from_model("plate")     # or "alnum", "digits", or a path to a .tflite
    for plate in reader.read(image):             # a full BGR frame: every plate, best first
        print(plate.text, plate.confidence, plate.box)
    plate = reader.read_crop(crop)               # an image of one plate (cut loose or tight): one or None

The daemon (`plate-edge run`) and its parts live in the submodules: config, camera, reader,
track, publish, service. Synthetic plates (plate_edge.sim) need the `sim` extra.
"""
from __future__ import annotations

__version__ = "0.1.0"

from .config import Config, ConfigError, load_config  # noqa: E402
from .reader import FrameResult, PlateReader, ReaderConfig  # noqa: E402
from .types import PlateReading  # noqa: E402

__all__ = ["Config", "ConfigError", "FrameResult", "PlateReader", "PlateReading", "ReaderConfig",
           "__version__", "load_config"]
