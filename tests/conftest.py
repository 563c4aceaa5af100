"""Shared test fixtures: paths to the project, its shipped models and the shared data."""
from pathlib import Path

import cv2
import numpy as np
import pytest

from plate_edge.classify import shipped_model
from plate_edge.types import Box

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "src" / "plate_edge" / "models"
SHARED = ROOT.parent / "shared" / "data"


@pytest.fixture
def model_path():
    """A shipped model; skips when models/ has not been built."""
    def get(name: str = "digits") -> Path:
        path = shipped_model(name)   # the installed package's model (the source tree's when editable)
        if path is None:
            pytest.skip(f"{MODELS / name}.tflite not built (make models)")
        return path
    return get


def street_scenes(n: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Real street scenes (the held-out romania video of ../shared/data/plates-boxes, never trained
    on) as 1280x720 grayscale, or generated scenes where the shared data is missing."""
    files = sorted((SHARED / "plates-boxes" / "romania" / "dayride_type1_002").glob("*.jpg"))
    if len(files) >= n:   # spread over the video (38 frames)
        return [cv2.resize(cv2.imread(str(files[i]), cv2.IMREAD_GRAYSCALE), (1280, 720))
                for i in np.linspace(0, len(files) - 1, n).round().astype(int)]
    from plate_edge.sim.synth import render_scene
    return [cv2.cvtColor(render_scene([], rng, size=(1280, 720)).image, cv2.COLOR_BGR2GRAY) for _ in range(n)]


def pasted_box(quad: np.ndarray) -> Box:
    """The axis-aligned box of a pasted plate's quadrilateral (convert.detector_data.paste_plate)."""
    (x0, y0), (x1, y1) = quad.min(0), quad.max(0)
    return Box(int(x0), int(y0), int(x1 - x0), int(y1 - y0))
