"""REST handlers under `<base_url>/nbmlops/`, all on jupyter_server's authenticated APIHandler: no token or
cookie → 403, a POST without the XSRF token → 403. Compiling and store queries run in a thread, pipeline runs in a
worker process, so the event loop never waits on them. Errors are JSON: `{"message": ..., "cell": ...}`."""

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

from nbmlops.pipeline.targets import TARGETS
from nbmlops.server.guards import (
    MAX_BODY_BYTES,
    RunSlots,
    bounded_int,
    max_run_workers,
    parse_body,
    relative_message,
)
from nbmlops.server.jobs import ACTIVE, JobManager
from nbmlops.server.paths import api_path_of, home_inside_root, safe_output, safe_path

T = TypeVar("T")


class BaseHandler(APIHandler):
    @property
    def root_dir(self) -> str:
        return self.settings["nbmlops_root_dir"]

    @property
    def jobs(self) -> JobManager:
        return self.settings["nbmlops_jobs"]

    @property
    def allow_hidden(self) -> bool:
        """Jupyter's ContentsManager.allow_hidden: whether hidden files and folders may be opened."""
        return bool(getattr(self.contents_manager, "allow_hidden", False))

    def prepare(self) -> Any:
        # a body over the cap is refused before anything reads it (guards.parse_body checks what arrived too)
        length = self.request.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > MAX_BODY_BYTES:
            raise web.HTTPError(413, f"the request body is {int(length):,} bytes; at most {MAX_BODY_BYTES:,}")
        return super().prepare()

    def body(self) -> dict[str, Any]:
        return parse_body(self.request.body)

    def notebook(self, api_path: Any) -> Path:
        path = safe_path(self.root_dir, api_path, allow_hidden=self.allow_hidden)
        if path.suffix != ".ipynb" or not path.is_file():
            shown = api_path if len(api_path) <= 200 else api_path[:200] + "…"
            raise web.HTTPError(400, f"not a notebook: {shown}")
        return path

    def home_of(self, notebook: Path) -> Path:
        """The notebook's project home as this server sees it: inside the root (paths.home_inside_root)."""
        return home_inside_root(self.root_dir, notebook)

    def take_run_slot(self) -> RunSlots:
        """A slot for one more run worker, or 429 (guards.RunSlots); call `.started(job_id)` on what it returns
        once the job started (None if it didn't), before any other `await`s error out."""
        slots = self.settings.setdefault("nbmlops_run_slots", RunSlots())

        def active(job_id: str) -> bool:
            job = self.jobs.get(job_id)
            return job is not None and job.status in ACTIVE

        slots.take(max_run_workers(self.settings), active)
        return slots

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """JSON errors as APIHandler writes them, with the message as written (tornado doubles a `%` in a message
        given without arguments) and paths relative to the root."""
        error = (kwargs.get("exc_info") or (None, None, None))[1]
        if not isinstance(error, web.HTTPError) or not error.log_message:
            return super().write_error(status_code, **kwargs)
        raw = getattr(error, "_log_message", None) or error.log_message
        message = raw % error.args if error.args else raw
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"message": relative_message(message, self.root_dir), "reason": error.reason}))

    async def in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        return await IOLoop.current().run_in_executor(None, fn, *args)

    def reply(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data, default=str))

    def user_error(self, exc: Exception, status: int = 400) -> None:
        """A user-caused error (bad tags, unknown parameter...): the message the panel shows, and the cell."""
        self.reply({"message": relative_message(str(exc), self.root_dir), "cell": getattr(exc, "cell", None)}, status)


class InfoHandler(BaseHandler):
    @web.authenticated
    def get(self) -> None:
        from nbmlops.runners import BACKENDS

        backends = ["local", "papermill", "ray"]
        self.reply({"backends": [b for b in backends if b in BACKENDS] or ["local"], "targets": list(TARGETS)})


def _compile(path: Path, api_path: str, content: Any) -> dict[str, Any]:
    from nbmlops.notebook import parse_notebook
    from nbmlops.pipeline import compile_notebook

    # the panel sends the notebook as it is in the editor, so the DAG follows unsaved changes too; messages name
    # the notebook by its path in JupyterLab, not by where the server keeps it
    try:
        raw = json.dumps(content).encode() if content is not None else path.read_bytes()
    except RecursionError:
        raise web.HTTPError(400, "the notebook content is nested too deep") from None
    return compile_notebook(parse_notebook(raw, api_path)).to_dict()


class SpecHandler(BaseHandler):
    @web.authenticated
    async def post(self) -> None:
        from nbmlops.errors import NbmlopsError

        data = self.body()
        path = self.notebook(data.get("path"))
        try:
            spec = await self.in_thread(_compile, path, data["path"], data.get("content"))
        except NbmlopsError as exc:
            return self.user_error(exc)
        self.reply(spec)


def _pipeline_name(path: Path) -> str:
    return re.sub(r"[^A-Za-z0-9_\-]+", "_", path.stem) or "pipeline"  # as the compiler names a pipeline


def _list_runs(path: Path, home: Path, limit: int) -> list[dict[str, Any]]:
    from nbmlops.server.run_views import run_row
    from nbmlops.store import open_store

    if not home.is_dir():
        return []
    store = open_store(home)
    runs = store.list_runs(pipeline=_pipeline_name(path), limit=limit)
    return [run_row(r) for r in runs]


def _check_params(path: Path, params: dict[str, Any]) -> None:
    from nbmlops.pipeline import compile_notebook, resolve_parameters

    resolve_parameters(compile_notebook(path), params)  # unknown names and bad values fail before a process starts


class RunsHandler(BaseHandler):
    @web.authenticated
    async def get(self) -> None:
        from nbmlops.errors import NbmlopsError

        path = self.notebook(self.get_query_argument("path", ""))
        limit = bounded_int(self.get_query_argument("limit", "50"), "limit")
        try:
            runs = await self.in_thread(_list_runs, path, self.home_of(path), limit)
        except NbmlopsError as exc:
            return self.user_error(exc)
        self.reply({"runs": runs})

    @web.authenticated
    async def post(self) -> None:
        from nbmlops.errors import NbmlopsError

        data = self.body()
        api_path = data.get("path")
        path = self.notebook(api_path)
        backend = data.get("backend") or "local"
        params = data.get("params") or {}
        if backend not in ("local", "papermill", "ray") or not isinstance(params, dict):
            raise web.HTTPError(400, "backend must be local, papermill or ray, params an object")
        slots = self.take_run_slot()  # before the first await: concurrent POSTs count each other
        job_id = None
        try:
            await self.in_thread(_check_params, path, params)  # typed as the CLI parses: 400 naming the parameter
            job_id = self.jobs.start(api_path, path, backend, params, home=self.home_of(path)).id
        except NbmlopsError as exc:
            return self.user_error(exc)
        finally:
            slots.started(job_id)
        self.reply(self.jobs.get(job_id).to_dict(), 202)


class JobHandler(BaseHandler):
    @web.authenticated
    def get(self, job_id: str) -> None:
        job = self.jobs.get(job_id)
        if job is None:
            raise web.HTTPError(404, f"no run job {job_id}")
        self.reply(job.to_dict())


class StepNotebookHandler(BaseHandler):
    """A step's executed notebook (papermill backend) from a run this server started: where to open it in
    JupyterLab when it is under the root and not hidden, else rendered as HTML for the panel to show."""

    @web.authenticated
    async def get(self, job_id: str, step: str) -> None:
        job = self.jobs.get(job_id)
        notebook = (job.artifacts.get(step) or {}).get("notebook") if job else None
        if not notebook or not Path(notebook).is_file():
            raise web.HTTPError(404, f"no executed notebook for step {step}")
        if self.get_query_argument("format", "json") != "html":
            return self.reply({"path": api_path_of(self.root_dir, notebook), "file": notebook})
        html = await self.in_thread(_to_html, notebook)
        self.finish(html, set_content_type="text/html; charset=utf-8")  # APIHandler would say JSON


def _to_html(path: str) -> str:
    import nbconvert
    import nbformat

    body, _ = nbconvert.HTMLExporter().from_notebook_node(nbformat.read(path, as_version=4))
    return body


def _export(root_dir: str, path: Path, target: str) -> list[Path]:
    """Write the target next to the notebook (`churn.pipeline.json`, `churn_papermill/`, `churn_ray.py`);
    a file there that nbmlops did not write is left alone (an error the panel shows), and nothing is written
    through a symlink or outside the root (403)."""
    from nbmlops.pipeline import compile_notebook
    from nbmlops.pipeline.targets import write_target

    spec = compile_notebook(path)
    stem = path.with_suffix("")
    output = stem.with_name(f"{stem.name}{TARGETS[target].suffix}")
    planned = [output]
    if TARGETS[target].output == "folder":
        planned += [output / f"{step.name}.ipynb" for step in spec.steps] + [output / "pipeline.json"]
    for item in planned:
        safe_output(root_dir, item)
    return write_target(spec, target, output)


class ExportHandler(BaseHandler):
    @web.authenticated
    async def post(self) -> None:
        from nbmlops.errors import NbmlopsError

        data = self.body()
        path = self.notebook(data.get("path"))
        target = data.get("target")
        if not isinstance(target, str) or target not in TARGETS:
            raise web.HTTPError(400, f"target must be one of {', '.join(TARGETS)}")
        try:
            written = await self.in_thread(_export, self.root_dir, path, target)
        except NbmlopsError as exc:
            return self.user_error(exc)
        self.reply(
            {"written": [api_path_of(self.root_dir, p) or relative_message(str(p), self.root_dir) for p in written]}
        )


def setup_handlers(server_app: Any) -> None:
    web_app = server_app.web_app
    web_app.settings["nbmlops_root_dir"] = server_app.root_dir
    if "nbmlops_jobs" not in web_app.settings:
        web_app.settings["nbmlops_jobs"] = JobManager()  # runs are detached: they outlive this server
    base = url_path_join(web_app.settings["base_url"], "nbmlops")
    web_app.add_handlers(
        ".*$",
        [
            (url_path_join(base, "info"), InfoHandler),
            (url_path_join(base, "spec"), SpecHandler),
            (url_path_join(base, "runs"), RunsHandler),
            (url_path_join(base, "jobs", r"(\w+)"), JobHandler),
            (url_path_join(base, "jobs", r"(\w+)", "steps", r"([A-Za-z0-9_\-]+)", "notebook"), StepNotebookHandler),
            (url_path_join(base, "export"), ExportHandler),
        ],
    )
