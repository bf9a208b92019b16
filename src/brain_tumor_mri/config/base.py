"""The base of every parameter schema, in a module of its own so that the schema
modules (``parameters``, ``model_parameters``) import it without importing each other."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """A parameter group whose unknown keys (typos) are errors."""

    model_config = ConfigDict(extra="forbid")
