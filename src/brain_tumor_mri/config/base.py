"""The base of every parameter schema, and the decorator that hands nodes their
parameters as validated schema objects."""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, TypeAdapter

F = TypeVar("F", bound=Callable[..., Any])


class StrictModel(BaseModel):
    """A parameter group whose unknown keys (typos) are errors."""

    model_config = ConfigDict(extra="forbid")


def _holds_a_schema(hint: Any) -> bool:
    """Whether a type hint is or contains a schema: ``P``, ``P | None``, ``list[P]``."""
    if isinstance(hint, type) and issubclass(hint, StrictModel):
        return True
    return any(_holds_a_schema(inner) for inner in typing.get_args(hint))


def _schema_arguments(func: Callable[..., Any]) -> dict[str, TypeAdapter[Any]]:
    """A validator for each argument of ``func`` whose type hint holds a schema."""
    hints = typing.get_type_hints(func)
    hints.pop("return", None)
    return {
        name: TypeAdapter(hint) for name, hint in hints.items() if _holds_a_schema(hint)
    }


def typed_params(func: F) -> F:
    """Validate a node's parameter arguments into their schema objects.

    Kedro hands a node ``params:<group>`` as plain dicts and lists; every argument
    whose type hint holds a ``StrictModel`` subclass (``P``, ``P | None``,
    ``list[P]``) is validated into it before the call, so the node reads typed
    attributes, and every default lives in ``conf/`` and its schema. Schema objects
    pass unchanged.

    Kedro (1.x) would itself replace a ``params:`` input annotated with a pydantic
    model by that model in the run's parameters, which the hooks read and which
    kedro-mlflow logs (the model's repr, not its flattened keys): the wrapper shows
    Kedro those arguments as mappings, so the run's parameters stay plain values.
    """
    signature = inspect.signature(func)
    validators = _schema_arguments(func)

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(*args, **kwargs)
        for name, validator in validators.items():
            if name in bound.arguments:
                bound.arguments[name] = validator.validate_python(bound.arguments[name])
        return func(*bound.args, **bound.kwargs)

    wrapper.__annotations__ = {
        name: Mapping[str, Any] if name in validators else hint
        for name, hint in func.__annotations__.items()
    }
    return typing.cast(F, wrapper)
