"""watcher: watch the health-IT press for news about the vendors you follow.

The public API, for scripts and for the CLI::

    settings = watcher.load_config("sources.yaml")
    async with watcher.Watcher(settings, "state") as w:
        report = await w.run_once()
"""

from watcher._version import __version__
from watcher.config import Settings, SinkConfig, SourceConfig, VendorConfig
from watcher.config import load as load_config
from watcher.daemon import RunReport, Watcher, serve
from watcher.errors import (
    ConfigError,
    DeliveryError,
    FetchError,
    ParseError,
    SourceError,
    StoreError,
    WatcherError,
)
from watcher.models import Article, Change, Entry, Event, Page, VendorMatch, Version

__all__ = [
    "Article",
    "Change",
    "ConfigError",
    "DeliveryError",
    "Entry",
    "Event",
    "FetchError",
    "Page",
    "ParseError",
    "RunReport",
    "Settings",
    "SinkConfig",
    "SourceConfig",
    "SourceError",
    "StoreError",
    "VendorConfig",
    "VendorMatch",
    "Version",
    "Watcher",
    "WatcherError",
    "__version__",
    "load_config",
    "serve",
]
