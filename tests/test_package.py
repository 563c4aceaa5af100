"""The package as a user meets it: the public API, `python -m plate_edge`, --version, and a device
install without the optional extras."""
import subprocess
import sys

import numpy as np

import plate_edge
from plate_edge import PlateReader, PlateReading, ReaderConfig, load_config
from plate_edge.sim.synth import PlateStyle, render_plate, render_scene


def test_public_api_reads_a_scene_and_a_crop(model_path):
    model_path("digits")
    reader = PlateReader.from_model("digits", ReaderConfig(), threads=1)
    rng = np.random.default_rng(3)
    scene = render_scene(["4071358"], rng, size=(640, 480))
    readings = reader.read(scene.image)
    assert isinstance(readings, list) and all(isinstance(r, PlateReading) for r in readings)
    crop = render_plate("926081", rng, style=PlateStyle()).image
    reading = reader.read_crop(crop)
    assert reading is None or isinstance(reading, PlateReading)
    assert load_config(None).reader == ReaderConfig()


def test_python_m_plate_edge_and_version():
    out = subprocess.run([sys.executable, "-m", "plate_edge", "--version"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == f"plate-edge {plate_edge.__version__}"


def test_device_package_imports_without_pillow_and_generated_camera_names_the_extra():
    code = """
import sys
sys.modules["PIL"] = None          # as if Pillow were not installed
import plate_edge, plate_edge.cli, plate_edge.service, plate_edge.camera
from plate_edge.camera import CameraError, open_source
from plate_edge.config import CameraConfig
assert not any(m.startswith(("plate_edge.sim", "plate_edge.testing", "PIL")) for m in sys.modules if sys.modules[m])
try:
    open_source(CameraConfig(source="generated"))
except CameraError as exc:
    assert "plate-edge[sim]" in str(exc), exc
    print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
