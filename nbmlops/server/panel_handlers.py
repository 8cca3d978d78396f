"""REST handlers the Pipeline panel needs beyond compile/run/export (handlers.py): runs from the store, one run's
details, stopping a run, sweeps, step notebooks as JSON, models (promote) and feature sets.

Same rules as handlers.py (its BaseHandler): jupyter_server's authentication, the XSRF check on POST, notebook
paths inside the root. The project home is the notebook's (found upward from its folder, or NBMLOPS_HOME).
User errors are `{"message", "cell"}` with 400 (404 for an unknown run), never a 500.

    GET  runlist?path=&where=F&where=F&order=K&limit=N&offset=N   -> {"runs", "more", "offset"}
    GET  runs/<run_id>?path=                                      -> run details (run_views.run_detail)
    POST runs/<run_id>/stop            {"path"}                  -> {"run_id", "stopping"}
    GET  runs/<run_id>/steps/<step>/notebook?path=                -> the executed notebook (nbformat JSON)
    POST jobs/<job_id>/stop            {"path"}                  -> the job
    POST sweeps  {"path", "backend", "params", "sweep": {"fields", "mode", "objective"}} -> 202 the job
    GET  models?path=                                             -> {"models"}
    POST models/<name>/aliases         {"path", "alias", "version"} -> {"model", "alias", "version", "previous"}
    GET  featuresets?path=                                        -> {"feature_sets"}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jupyter_server.utils import url_path_join
from tornado import web

from nbmlops.errors import NbmlopsError
from nbmlops.server.handlers import BaseHandler, _pipeline_name
from nbmlops.server.run_views import RunNotFound

RUN = r"(\d{8}-\d{6}-[0-9a-f]+)"
STEP = r"([A-Za-z0-9_\-]+)"


class PanelHandler(BaseHandler):
    """BaseHandler (auth, XSRF, paths and project homes inside the root) with the panel's query helpers."""

    def notebook_arg(self) -> Path:
        return self.notebook(self.get_query_argument("path", ""))

    async def answer(self, fn: Any, *args: Any, status: int = 200, **kwargs: Any) -> None:
        try:
            result = await self.in_thread(lambda: fn(*args, **kwargs))
        except RunNotFound as exc:
            return self.user_error(exc, 404)
        except NbmlopsError as exc:
            return self.user_error(exc)
        self.reply(result, status)


class RunListHandler(PanelHandler):
    @web.authenticated
    async def get(self) -> None:
        from nbmlops.server.run_views import list_runs

        path = self.notebook_arg()
        try:
            limit = max(1, min(200, int(self.get_query_argument("limit", "20"))))
            offset = max(0, int(self.get_query_argument("offset", "0")))
        except ValueError:
            raise web.HTTPError(400, "limit and offset must be whole numbers") from None
        where = [w for w in self.get_query_arguments("where") if w.strip()]
        order = [o for o in self.get_query_arguments("order") if o.strip()]
        await self.answer(
            list_runs, self.home_of(path), _pipeline_name(path), where=where, order=order, limit=limit, offset=offset
        )


class RunDetailHandler(PanelHandler):
    @web.authenticated
    async def get(self, run_id: str) -> None:
        from nbmlops.server.run_views import run_detail

        await self.answer(run_detail, self.home_of(self.notebook_arg()), run_id)


class RunStopHandler(PanelHandler):
    @web.authenticated
    async def post(self, run_id: str) -> None:
        from nbmlops.server.run_views import stop_run

        await self.answer(stop_run, self.home_of(self.notebook(self.body().get("path"))), run_id)


class RunStepNotebookHandler(PanelHandler):
    @web.authenticated
    async def get(self, run_id: str, step: str) -> None:
        from nbmlops.server.run_views import step_notebook

        await self.answer(step_notebook, self.home_of(self.notebook_arg()), run_id, step)


class JobStopHandler(PanelHandler):
    @web.authenticated
    def post(self, job_id: str) -> None:
        job = self.jobs.stop(job_id, self.home_of(self.notebook(self.body().get("path"))))
        if job is None:
            raise web.HTTPError(404, f"no run job {job_id}")
        self.reply(job.to_dict())


def _check_sweep(path: Path, params: dict[str, Any], fields: dict[str, str], mode: str, objective: str) -> int:
    """The number of runs the sweep makes; bad values, unknown parameters, a bad mode or objective raise."""
    from nbmlops.pipeline import compile_notebook, resolve_parameters
    from nbmlops.runners.sweep import parse_objective, split_sweep_params, sweep_points
    from nbmlops.server.worker import sweep_items

    spec = compile_notebook(path)
    fixed, swept = split_sweep_params(spec, sweep_items(params, fields))
    if not swept:
        raise NbmlopsError("nothing to sweep: give a parameter several values, e.g. C = 0.1, 1, 10")
    resolve_parameters(spec, fixed)
    if objective:
        parse_objective(objective)
    return len(sweep_points(swept, mode))


class SweepHandler(PanelHandler):
    @web.authenticated
    async def post(self) -> None:
        data = self.body()
        path = self.notebook(data.get("path"))
        backend = data.get("backend") or "local"
        params = data.get("params") or {}
        sweep = data.get("sweep") or {}
        fields = sweep.get("fields") if isinstance(sweep, dict) else None
        if backend not in ("local", "papermill", "ray") or not isinstance(params, dict):
            raise web.HTTPError(400, "backend must be local, papermill or ray, params an object")
        if not isinstance(fields, dict) or not all(isinstance(v, str) for v in fields.values()):
            raise web.HTTPError(400, 'sweep.fields must map parameter names to their values, e.g. {"C": "0.1, 1"}')
        mode = str(sweep.get("mode") or "grid")
        objective = str(sweep.get("objective") or "")
        slots = self.take_run_slot()  # before the first await: concurrent POSTs count each other
        job = None
        try:
            points = await self.in_thread(_check_sweep, path, params, fields, mode, objective)
            job = self.jobs.start(
                data["path"],
                path,
                backend,
                params,
                home=self.home_of(path),
                sweep={"fields": fields, "mode": mode, "objective": objective},
            )
        except NbmlopsError as exc:
            return self.user_error(exc)
        finally:
            slots.started(job.id if job else None)
        self.reply({**job.to_dict(), "sweep": {"points": points}}, 202)


class ModelsHandler(PanelHandler):
    @web.authenticated
    async def get(self) -> None:
        from nbmlops.server.catalog_views import models

        await self.answer(models, self.home_of(self.notebook_arg()))


class ModelAliasHandler(PanelHandler):
    @web.authenticated
    async def post(self, name: str) -> None:
        from nbmlops.server.catalog_views import promote

        data = self.body()
        home = self.home_of(self.notebook(data.get("path")))
        alias, version = data.get("alias"), data.get("version")
        if not isinstance(alias, str) or not alias or isinstance(version, bool) or not isinstance(version, int):
            raise web.HTTPError(400, "alias must be a name and version a whole number")
        await self.answer(promote, home, name, alias, version)


class FeatureSetsHandler(PanelHandler):
    @web.authenticated
    async def get(self) -> None:
        from nbmlops.server.catalog_views import feature_sets

        await self.answer(feature_sets, self.home_of(self.notebook_arg()))


def setup_panel_handlers(server_app: Any) -> None:
    """After handlers.setup_handlers (which sets the root and the job manager these handlers use)."""
    web_app = server_app.web_app
    web_app.add_handlers(".*$", panel_routes(url_path_join(web_app.settings["base_url"], "nbmlops")))


def panel_routes(base: str) -> list[tuple[str, type[PanelHandler]]]:
    return [
        (url_path_join(base, "runlist"), RunListHandler),
        (url_path_join(base, "runs", RUN), RunDetailHandler),
        (url_path_join(base, "runs", RUN, "stop"), RunStopHandler),
        (url_path_join(base, "runs", RUN, "steps", STEP, "notebook"), RunStepNotebookHandler),
        (url_path_join(base, "jobs", r"([0-9a-f]{12})", "stop"), JobStopHandler),
        (url_path_join(base, "sweeps"), SweepHandler),
        (url_path_join(base, "models"), ModelsHandler),
        (url_path_join(base, "models", r"([A-Za-z0-9_.\-]+)", "aliases"), ModelAliasHandler),
        (url_path_join(base, "featuresets"), FeatureSetsHandler),
    ]
