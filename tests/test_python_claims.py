"""What the project claims about Python versions agrees everywhere: pyproject, the legacy extra, README."""
import re
import tomllib

from conftest import ROOT


def test_requires_python_legacy_extra_and_readme_agree():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert meta["requires-python"] == ">=3.11"
    legacy = meta["optional-dependencies"]["legacy"]
    runtime = next(d for d in legacy if d.startswith("tflite-runtime"))
    assert runtime.endswith("python_version == '3.11'"), runtime   # its wheels stop at 3.11
    readme = (ROOT / "README.md").read_text()
    assert "Python 3.11+" in readme
    assert re.search(r"\[legacy\]`?, which needs Python 3\.11", readme)
    assert not re.search(r"Python 3\.(9|10)\b", readme)
