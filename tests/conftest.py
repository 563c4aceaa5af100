"""Shared test fixtures: paths to the project, its shipped models and the shared data."""
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"
SHARED = ROOT.parent / "shared" / "data"


@pytest.fixture
def model_path():
    """A shipped model; skips when models/ has not been built."""
    def get(name: str = "digits") -> Path:
        path = MODELS / f"{name}.tflite"
        if not path.is_file():
            pytest.skip(f"{path} not built (make models)")
        return path
    return get
