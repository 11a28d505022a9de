"""Every source and sink kind documents itself and declares its YAML keys."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

import watcher
from watcher.notify import SINK_KINDS
from watcher.sources import SOURCE_KINDS, register


@pytest.mark.parametrize(
    "cls", [*SOURCE_KINDS.values(), *SINK_KINDS.values()], ids=lambda c: c.kind
)
def test_kind_has_docs_and_options(cls: type) -> None:
    assert cls.__doc__ and "```yaml" in cls.__doc__, (
        f"{cls.__name__}: the docstring is the kind's user docs"
    )
    options = getattr(cls, "Options")  # noqa: B009 - not part of the kind Protocols
    assert isinstance(options, type) and dataclasses.is_dataclass(options)
    assert options.__dataclass_params__.frozen  # type: ignore[attr-defined]


def test_kinds_registered() -> None:
    assert set(SOURCE_KINDS) >= {"feed"}
    assert set(SINK_KINDS) >= {"log", "slack", "webhook"}


def test_registering_a_kind_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register(SOURCE_KINDS["feed"])


def test_public_api_is_exported() -> None:
    public = {
        name
        for name, value in vars(watcher).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }
    assert public == set(watcher.__all__) - {"__version__"}
