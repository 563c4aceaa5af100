"""The base of every stage's settings model (pydantic v2): unknown keys are errors, types are strict.

Each stage defines its settings beside its code (LocalizeConfig in localize.py, TrackingConfig in
track.py, ...); plate_edge.config composes them into the file's layout and loads YAML. Kept tiny
so a stage can be used, and configured from Python, without the YAML loader.

Strict types: `threads: true` or `threads: "2"` is an error rather than 1 or 2; integers are fine
where a number is expected, and numbers where a text is expected (`source: 0`, `plates: [1234]`).
A cross-field check raises ValueError("<field>: <what is wrong>") so the message names the key.
"""
from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict


def _number_to_text(value: Any) -> Any:
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


# A string setting that also takes a YAML number (a camera index, a plate of digits).
Text = Annotated[str, BeforeValidator(_number_to_text)]


class Settings(BaseModel):
    """Base of the settings models: extra keys forbidden, strict scalar types."""
    model_config = ConfigDict(extra="forbid", strict=True)
