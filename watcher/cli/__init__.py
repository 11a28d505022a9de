"""The ``watcher`` command: parse options, call the core, print, choose the exit code.

No decision is made here. A :class:`~watcher.errors.WatcherError` becomes one red line
and an exit code (2 for configuration errors, 1 for the others); anything unexpected
keeps its traceback. Commands live in one module per area and register on :data:`cli`.
"""

from watcher.cli.main import cli, main

__all__ = ["cli", "main"]
