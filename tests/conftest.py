"""Shared test fixtures: paths to the project, its shipped models and the shared data."""
from pathlib import Path

import pytest

from plate_edge.classify import shipped_model

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
