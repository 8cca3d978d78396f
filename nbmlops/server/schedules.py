"""REST for the Pipeline panel's schedules, under `<base_url>/nbmlops/schedules` (jupyter_server's authenticated
APIHandler: token or cookie, XSRF on writes; notebook paths must lie inside the server root).

    GET    schedules?path=NOTEBOOK     200 {"schedules": [schedule, ...]}  (that notebook's schedules)
    POST   schedules                   201 {"schedule": ...}  body {"path", "cron", "timezone"?, "name"?,
                                           "params"?, "backend"?, "catchup"?, "retries"?}
    POST   schedules/NAME/pause|resume 200 {"schedule": ...}
    DELETE schedules/NAME              204

A schedule: {"name", "notebook" (its path in JupyterLab), "cron", "timezone", "paused", "next_at" (ISO or
null), "last": {"at", "run_id", "status"} or null, "backend", "params", "retries", "catchup", "triggers" (in
words), "last_error"}. Bad input is 400 {"message", "cell": null, "field"} naming the field; an unknown name 404.
The schedules live in the store of the notebook's project, as the server finds it for runs (the nearest .nbmlops
up to the root, BaseHandler.home_of). A name's store: that of the notebook given as ?path=, else the one its
schedule was last listed or added in by this server, else the root's project.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from jupyter_server.utils import url_path_join
from tornado import web

from nbmlops.server.guards import relative_message
from nbmlops.server.handlers import BaseHandler
from nbmlops.server.paths import api_path_of, home_inside_root

NAME = r"([A-Za-z0-9][A-Za-z0-9_.\-]*)"
# the CLI flag a ScheduleError message starts with -> the field of the request body
FIELDS = {
    "--cron": "cron",
    "--timezone": "timezone",
    "--name": "name",
    "-p": "params",
    "--backend": "backend",
    "--catchup": "catchup",
    "--retries": "retries",
    "NOTEBOOK": "path",
}
BODY_FIELDS = {
    "path": str,
    "cron": str,
    "timezone": str,
    "name": str,
    "params": dict,
    "backend": str,
    "catchup": str,
    "retries": int,
}
SHOWN = (
    "name",
    "cron",
    "timezone",
    "paused",
    "next_at",
    "backend",
    "params",
    "retries",
    "catchup",
    "triggers",
    "last_error",
)


def _open(home: Path, create: bool) -> Any:
    from nbmlops.store import open_store

    return open_store(home) if create or home.is_dir() else None


def _shown(view: dict[str, Any], root_dir: str) -> dict[str, Any]:
    last = view["last"]
    return {
        **{k: view[k] for k in SHOWN},
        "notebook": api_path_of(root_dir, view["target"]) or view["target"],
        "last": None if last is None else {k: last[k] for k in ("at", "run_id", "status")},
    }


def _list(path: Path, home: Path, root_dir: str) -> list[dict[str, Any]]:
    from nbmlops.scheduling import schedule_views

    store = _open(home, create=False)
    if store is None:
        return []
    try:
        return [_shown(v, root_dir) for v in schedule_views(store) if v["target"] == str(path)]
    finally:
        store.close()


def _add(path: Path, home: Path, data: dict[str, Any], root_dir: str) -> dict[str, Any]:
    from nbmlops.scheduling import add_schedule, build_schedule, schedule_view

    store = _open(home, create=True)
    try:
        made = build_schedule(
            str(path),
            home=store.settings.home,
            cron=data.get("cron"),
            timezone=data.get("timezone") or "UTC",
            name=data.get("name"),
            params=data.get("params") or {},
            backend=data.get("backend") or "local",
            catchup=data.get("catchup") or "once",
            retries=data.get("retries", 0),
        )
        add_schedule(store.db, made)
        return _shown(schedule_view(store, made.name), root_dir)
    finally:
        store.close()


def _change(home: Path, root_dir: str, name: str, action: str) -> dict[str, Any] | None:
    from nbmlops.scheduling import find_schedule, remove_schedule, schedule_view, set_paused

    store = _open(home, create=False)
    if store is None:
        return None
    try:
        if find_schedule(store.db, name) is None:
            return None
        if action == "delete":
            remove_schedule(store.db, name)
            return {}
        set_paused(store.db, name, action == "pause")
        return _shown(schedule_view(store, name), root_dir)
    finally:
        store.close()


class _Base(BaseHandler):
    def user_error(self, exc: Exception, status: int = 400, field: str | None = None) -> None:
        """As BaseHandler replies to a user's error, with the field of the request it is about."""
        message = str(exc)
        if field is None:
            flag = re.match(r"^(--[a-z-]+|-p|NOTEBOOK)\b", message)
            field = FIELDS.get(flag.group(1)) if flag else None
        self.reply(
            {"message": relative_message(message, self.root_dir), "cell": getattr(exc, "cell", None), "field": field},
            status,
        )

    def remember(self, names: list[str], home: Path) -> None:
        """Which store a schedule name was last seen in: pause/resume/delete by name find it there."""
        self.settings.setdefault("nbmlops_schedule_homes", {}).update(dict.fromkeys(names, home))

    def home_of_name(self, name: str) -> Path:
        api_path = self.get_query_argument("path", "")
        if api_path:
            return self.home_of(self.notebook(api_path))
        known = self.settings.get("nbmlops_schedule_homes", {}).get(name)
        return known or home_inside_root(self.root_dir, Path(self.root_dir) / "_")


class SchedulesHandler(_Base):
    @web.authenticated
    async def get(self) -> None:
        path = self.notebook(self.get_query_argument("path", ""))
        home = self.home_of(path)
        schedules = await self.in_thread(_list, path, home, self.root_dir)
        self.remember([s["name"] for s in schedules], home)
        self.reply({"schedules": schedules})

    @web.authenticated
    async def post(self) -> None:
        from nbmlops.errors import NbmlopsError

        data = self.body()
        for key, kind in BODY_FIELDS.items():
            value = data.get(key)
            if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
                shown = json.dumps(value)
                shown = shown if len(shown) <= 60 else shown[:60] + "…"
                return self.user_error(ValueError(f"{key}: expected {kind.__name__}, got {shown}"), field=key)
        if not data.get("cron"):
            return self.user_error(ValueError("cron: a cron expression is required, e.g. '0 3 * * *'"), field="cron")
        path = self.notebook(data.get("path"))
        home = self.home_of(path)
        try:
            schedule = await self.in_thread(_add, path, home, data, self.root_dir)
        except NbmlopsError as exc:
            return self.user_error(exc)
        self.remember([schedule["name"]], home)
        self.reply({"schedule": schedule}, 201)


class ScheduleActionHandler(_Base):
    async def act(self, name: str, action: str) -> None:
        changed = await self.in_thread(_change, self.home_of_name(name), self.root_dir, name, action)
        if changed is None:
            return self.user_error(LookupError(f"no schedule '{name}'"), 404, field="name")
        if action == "delete":
            self.set_status(204)
            return self.finish()
        self.reply({"schedule": changed})

    @web.authenticated
    async def post(self, name: str, action: str) -> None:
        await self.act(name, action)


class ScheduleHandler(ScheduleActionHandler):
    @web.authenticated
    async def post(self, name: str) -> None:  # a schedule itself is only deleted; pause/resume have their URLs
        raise web.HTTPError(405)

    @web.authenticated
    async def delete(self, name: str) -> None:
        await self.act(name, "delete")


def setup_schedule_handlers(server_app: Any) -> None:
    """Add the schedules routes (after handlers.setup_handlers, whose settings they share)."""
    web_app = server_app.web_app
    base = url_path_join(web_app.settings["base_url"], "nbmlops")
    web_app.add_handlers(
        ".*$",
        [
            (url_path_join(base, "schedules"), SchedulesHandler),
            (url_path_join(base, "schedules", NAME, r"(pause|resume)"), ScheduleActionHandler),
            (url_path_join(base, "schedules", NAME), ScheduleHandler),
        ],
    )
