"""Jupyter Server extension: the REST API under `/nbmlops/` that the JupyterLab extension calls.

Enabled by `jupyter-config/jupyter_server_config.d/nbmlops.json`; the handlers live in `handlers.py` and load only
when a server starts, so `import nbmlops` never pulls in tornado or jupyter_server.
"""

from __future__ import annotations

from typing import Any


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "nbmlops.server"}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    # for `jupyter labextension develop`; installs use the copy in share/jupyter/labextensions/nbmlops
    return [{"src": "labextension", "dest": "nbmlops"}]


def _load_jupyter_server_extension(server_app: Any) -> None:
    from nbmlops.server.handlers import setup_handlers
    from nbmlops.server.panel_handlers import setup_panel_handlers
    from nbmlops.server.schedules import setup_schedule_handlers

    setup_handlers(server_app)
    setup_panel_handlers(server_app)  # the Pipeline panel's run details, sweeps, stop, models, feature sets
    setup_schedule_handlers(server_app)  # the Pipeline panel's schedules
    server_app.log.info("nbmlops server extension loaded at %snbmlops/", server_app.web_app.settings["base_url"])


__all__: list[str] = []
