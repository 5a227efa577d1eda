"""Field types shared by the rubric and taxonomy files: frozen records, snake_case ids, text."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

__all__ = ["SNAKE_CASE", "Frozen", "Identifier", "Score", "Text"]

SNAKE_CASE = r"^[a-z][a-z0-9_]*$"
Identifier = Annotated[str, StringConstraints(pattern=SNAKE_CASE, max_length=64)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Score = Annotated[float, Field(ge=0.0, le=1.0)]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
