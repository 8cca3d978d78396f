"""REST for the Pipeline panel's schedules, under `<base_url>/nbmlops/schedules` (jupyter_server's authenticated
APIHandler: token or cookie, XSRF on writes; notebook paths must lie inside the server root).

    GET    schedules?path=NOTEBOOK     200 {"schedules": [schedule, ...]}  (that notebook's schedules)
    POST   schedules                   201 {"schedule": ...}  body {"path", "cron", "timezone"?, "name"?,
                                           "params"?, "backend"?, "catchup"?, "retries"?}
    POST   schedules/NAME/pause|resume 200 {"schedule": ...}
    DELETE schedules/NAME              204
    (NAME's store: that of the notebook given as ?path=, else the server root's project)

A schedule: {"name", "notebook" (its path in JupyterLab), "cron", "timezone", "paused", "next_at" (ISO or
null), "last": {"at", "run_id", "status"} or null, "backend", "params", "retries", "catchup", "triggers" (in
words), "last_error"}. Bad input is 400 {"message", "cell": null, "field"} naming the field; an unknown name 404.
The schedules live in the store of the notebook's project (its .nbmlops, found upward as the CLI finds it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado import web
from tornado.ioloop import IOLoop

from nbmlops.server.paths import api_path_of, safe_path

T = TypeVar("T")
NAME = r"([A-Za-z0-9][A-Za-z0-9_.\-]*)"
# the CLI flag a ScheduleError message starts with -> the field of the request body
FIELDS = {"--cron": "cron", "--timezone": "timezone", "--name": "name", "-p": "params", "--backend": "backend",
          "--catchup": "catchup", "--retries": "retries", "NOTEBOOK": "path"}
BODY_FIELDS = {"path": str, "cron": str, "timezone": str, "name": str, "params": dict, "backend": str,
               "catchup": str, "retries": int}


def _open(path: Path, create: bool) -> Any:
    from nbmlops.store import open_store, project_home

    home = project_home(path.parent, create=create)
    return open_store(home) if home.is_dir() else None


def _shown(view: dict[str, Any], root_dir: str) -> dict[str, Any]:
    keys = ("name", "cron", "timezone", "paused", "next_at", "backend", "params", "retries", "catchup", "triggers",
            "last_error")
    last = view["last"]
    return {**{k: view[k] for k in keys}, "notebook": api_path_of(root_dir, view["target"]) or view["target"],
            "last": None if last is None else {k: last[k] for k in ("at", "run_id", "status")}}


class _Base(APIHandler):
    @property
    def root_dir(self) -> str:
        return self.settings["nbmlops_root_dir"]

    def reply(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data, default=str))

    def user_error(self, exc: Exception, status: int = 400, field: str | None = None) -> None:
        """As the other nbmlops handlers reply to a user's error, with the field it is about."""
        message = str(exc)
        if field is None:
            flag = re.match(r"^(--[a-z-]+|-p|NOTEBOOK)\b", message)
            field = FIELDS.get(flag.group(1)) if flag else None
        self.reply({"message": message, "cell": getattr(exc, "cell", None), "field": field}, status)

    def notebook(self, api_path: Any) -> Path:
        path = safe_path(self.root_dir, api_path)
        if path.suffix != ".ipynb" or not path.is_file():
            raise web.HTTPError(400, f"not a notebook: {api_path}")
        return path

    async def in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        return await IOLoop.current().run_in_executor(None, fn, *args)


def _list(path: Path, root_dir: str) -> list[dict[str, Any]]:
    from nbmlops.scheduling import schedule_views

    store = _open(path, create=False)
    if store is None:
        return []
    try:
        return [_shown(v, root_dir) for v in schedule_views(store) if v["target"] == str(path)]
    finally:
        store.close()


def _add(path: Path, data: dict[str, Any], root_dir: str) -> dict[str, Any]:
    from nbmlops.scheduling import add_schedule, build_schedule, schedule_view

    store = _open(path, create=True)
    try:
        made = build_schedule(str(path), home=store.settings.home, cron=data.get("cron"),
                              timezone=data.get("timezone") or "UTC", name=data.get("name"),
                              params=data.get("params") or {}, backend=data.get("backend") or "local",
                              catchup=data.get("catchup") or "once", retries=data.get("retries", 0))
        add_schedule(store.db, made)
        return _shown(schedule_view(store, made.name), root_dir)
    finally:
        store.close()


def _change(where: Path, root_dir: str, name: str, action: str) -> dict[str, Any] | None:
    from nbmlops.scheduling import find_schedule, remove_schedule, schedule_view, set_paused

    store = _open(where, create=False)
    if store is None or find_schedule(store.db, name) is None:
        return None
    try:
        if action == "delete":
            remove_schedule(store.db, name)
            return {}
        set_paused(store.db, name, action == "pause")
        return _shown(schedule_view(store, name), root_dir)
    finally:
        store.close()


class SchedulesHandler(_Base):
    @web.authenticated
    async def get(self) -> None:
        path = self.notebook(self.get_query_argument("path", ""))
        self.reply({"schedules": await self.in_thread(_list, path, self.root_dir)})

    @web.authenticated
    async def post(self) -> None:
        from nbmlops.errors import NbmlopsError

        try:
            data = json.loads(self.request.body or b"{}")
        except ValueError:
            raise web.HTTPError(400, "the request body is not JSON") from None
        if not isinstance(data, dict):
            raise web.HTTPError(400, "the request body must be a JSON object")
        for key, kind in BODY_FIELDS.items():
            value = data.get(key)
            if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
                return self.user_error(ValueError(f"{key}: expected {kind.__name__}, got {json.dumps(value)}"),
                                       field=key)
        if not data.get("cron"):
            return self.user_error(ValueError("cron: a cron expression is required, e.g. '0 3 * * *'"), field="cron")
        path = self.notebook(data.get("path"))
        try:
            schedule = await self.in_thread(_add, path, data, self.root_dir)
        except NbmlopsError as exc:
            return self.user_error(exc)
        self.reply({"schedule": schedule}, 201)


class ScheduleActionHandler(_Base):
    async def _act(self, name: str, action: str) -> None:
        # the store of the notebook's project when the panel names the notebook, else the server root's project
        api_path = self.get_query_argument("path", "")
        where = self.notebook(api_path) if api_path else Path(self.root_dir) / "_"
        changed = await self.in_thread(_change, where, self.root_dir, name, action)
        if changed is None:
            return self.user_error(LookupError(f"no schedule '{name}'"), 404, field="name")
        if action == "delete":
            self.set_status(204)
            return self.finish()
        self.reply({"schedule": changed})

    @web.authenticated
    async def post(self, name: str, action: str) -> None:
        await self._act(name, action)

    @web.authenticated
    async def delete(self, name: str) -> None:
        await self._act(name, "delete")


class ScheduleHandler(ScheduleActionHandler):
    @web.authenticated
    async def post(self, name: str) -> None:  # only DELETE on a schedule itself
        raise web.HTTPError(405)


def schedule_routes(base: str) -> list[tuple[str, type]]:
    """The routes setup_handlers adds: `base` is `<base_url>/nbmlops`."""
    return [
        (url_path_join(base, "schedules"), SchedulesHandler),
        (url_path_join(base, "schedules", NAME, r"(pause|resume)"), ScheduleActionHandler),
        (url_path_join(base, "schedules", NAME), ScheduleHandler),
    ]
