"""The base of every parameter schema, and the decorator that hands nodes their
parameters as validated schema objects."""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict

F = TypeVar("F", bound=Callable[..., Any])


class StrictModel(BaseModel):
    """A parameter group whose unknown keys (typos) are errors."""

    model_config = ConfigDict(extra="forbid")


def _schema_arguments(func: Callable[..., Any]) -> dict[str, type[StrictModel]]:
    """The arguments of ``func`` annotated with a schema (``StrictModel`` subclass)."""
    hints = typing.get_type_hints(func)
    schemas = {}
    for name, hint in hints.items():
        candidates = typing.get_args(hint) or (hint,)
        for candidate in candidates:
            if isinstance(candidate, type) and issubclass(candidate, StrictModel):
                schemas[name] = candidate
    schemas.pop("return", None)
    return schemas


def typed_params(func: F) -> F:
    """Validate a node's parameter arguments into their schema objects.

    Kedro hands a node ``params:<group>`` as a plain dict; every argument annotated
    with a ``StrictModel`` subclass is validated into that class before the call, so
    the node reads typed attributes, and every default lives in ``conf/`` and its
    schema. Arguments that already are schema objects pass unchanged.

    Kedro (1.x) would itself replace a ``params:`` input annotated with a pydantic
    model by that model in the run's parameters, which the hooks read and which
    kedro-mlflow logs (the model's repr, not its flattened keys): the wrapper shows
    Kedro those arguments as mappings, so the run's parameters stay plain values.
    """
    signature = inspect.signature(func)
    schemas = _schema_arguments(func)

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(*args, **kwargs)
        for name, schema in schemas.items():
            value = bound.arguments.get(name)
            if isinstance(value, Mapping):
                bound.arguments[name] = schema.model_validate(dict(value))
        return func(*bound.args, **bound.kwargs)

    wrapper.__annotations__ = {
        name: Mapping[str, Any] if name in schemas else hint
        for name, hint in func.__annotations__.items()
    }
    return typing.cast(F, wrapper)
