"""Project home, metadata and artifacts."""

from nbmlops.store.home import project_home

__all__ = ["project_home"]
