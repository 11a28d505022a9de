"""The version, read by pyproject.toml (hatch) and by ``/status``."""

__version__ = "0.1.0"
