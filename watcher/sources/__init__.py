"""Source kinds, by the ``kind`` name used in sources.yaml.

Adding a kind is one new module with a class decorated by :func:`register`.
"""

from __future__ import annotations

import dataclasses
from typing import TypeVar

from watcher.sources.base import Fetch, SourceKind

SOURCE_KINDS: dict[str, type[SourceKind]] = {}

_K = TypeVar("_K", bound=type[SourceKind])


def register(cls: _K) -> _K:
    """Class decorator adding a source kind to :data:`SOURCE_KINDS` (names are unique)."""
    options = getattr(cls, "Options", None)
    if not (isinstance(options, type) and dataclasses.is_dataclass(options)):
        raise TypeError(f"{cls.__name__} needs a nested dataclass named Options")
    if not cls.__doc__:
        raise TypeError(f"{cls.__name__} needs a docstring: it is the kind's user documentation")
    if cls.kind in SOURCE_KINDS:
        raise ValueError(f"source kind {cls.kind!r} is already registered")
    SOURCE_KINDS[cls.kind] = cls
    return cls


# Import the kinds so they register themselves.
from watcher.sources import feed as _feed  # noqa: E402,F401
from watcher.sources import listing as _listing  # noqa: E402,F401
from watcher.sources import sitemap as _sitemap  # noqa: E402,F401

__all__ = ["SOURCE_KINDS", "Fetch", "SourceKind", "register"]
