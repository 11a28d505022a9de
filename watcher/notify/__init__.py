"""Sink kinds, by the ``kind`` name used in sources.yaml.

Adding a kind is one new module with a class decorated by :func:`register`.
"""

from __future__ import annotations

import dataclasses
from typing import TypeVar

from watcher.notify.base import Sink

SINK_KINDS: dict[str, type[Sink]] = {}

_K = TypeVar("_K", bound=type[Sink])


def register(cls: _K) -> _K:
    """Class decorator adding a sink kind to :data:`SINK_KINDS` (names are unique)."""
    options = getattr(cls, "Options", None)
    if not (isinstance(options, type) and dataclasses.is_dataclass(options)):
        raise TypeError(f"{cls.__name__} needs a nested dataclass named Options")
    if not cls.__doc__:
        raise TypeError(f"{cls.__name__} needs a docstring: it is the kind's user documentation")
    if cls.kind in SINK_KINDS:
        raise ValueError(f"sink kind {cls.kind!r} is already registered")
    SINK_KINDS[cls.kind] = cls
    return cls


# Import the kinds so they register themselves.
from watcher.notify import apprise as _apprise  # noqa: E402,F401
from watcher.notify import discord as _discord  # noqa: E402,F401
from watcher.notify import slack as _slack  # noqa: E402,F401
from watcher.notify import stdout as _stdout  # noqa: E402,F401
from watcher.notify import teams as _teams  # noqa: E402,F401
from watcher.notify import webhook as _webhook  # noqa: E402,F401

__all__ = ["SINK_KINDS", "Sink", "register"]
