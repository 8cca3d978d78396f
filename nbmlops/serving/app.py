"""The HTTP contract, on Starlette (run by uvicorn: nbmlops.serving.server).

    POST /predict      {"rows": [{...}, ...]} -> {"predictions", "model_version", "request_id", "ids"}
    POST /invocations  MLflow's dataframe_split / dataframe_records / instances / inputs (or text/csv)
                       -> {"predictions": [...]} as MLflow answers
    POST /labels       {"labels": [{"id": ..., "label": ...}, ...]} (or one {"id", "label"}) -> 202
    GET  /health       200 while the process is up          GET /ready   200 once the models loaded, else 503
    GET  /metrics      Prometheus text                      GET /        the graph, model version, signature
    GET  /ping         MLflow's probe: 200 once loaded, 404 before (as `mlflow models serve`)

With a token every route but /health needs `Authorization: Bearer TOKEN` (401 otherwise). Errors answer
{"error_code", "message", "request_id", "detail"}: 400 bad JSON, 413 body too large, 422 input against the
signature, 500 the model raised (the server goes on), 503 with Retry-After when not ready or when more requests
are queued than `max_pending`. A graph that answers in under `inline_below_s` on average runs on the event loop
(the hop to a thread would cost more than the answer); slower ones run on `threads` threads, so /health and
/metrics stay responsive and the bound holds. Every answer carries X-Request-Id (and X-Model-Version where a model
answered).
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from anyio import CapacityLimiter, to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from nbmlops.serving.errors import BadRequest, NotReady, ServingError
from nbmlops.serving.graph import Graph, Result
from nbmlops.serving.metrics import CONTENT_TYPE, Metrics
from nbmlops.serving.payload import parse_invocations, parse_predict
from nbmlops.serving.prediction_log import PredictionLog

log = logging.getLogger("nbmlops.serving")


@dataclass
class Options:
    token: str | None = None
    max_body_bytes: int = 16 * 1024 * 1024
    max_pending: int = 64  # requests queued or running before 503
    threads: int = 4  # graph evaluations at once (threads; numpy and most models release the GIL)
    inline_below_s: float = 0.002  # graphs answering faster on average run on the event loop, without a thread
    poll_s: float = 1.0  # how often aliases are re-read
    log_predictions: bool = True
    log_queue: int = 10_000
    home: str | Path | None = None


class TooLarge(ServingError):
    status = 413
    code = "REQUEST_TOO_LARGE"


class Unauthorized(ServingError):
    status = 401
    code = "UNAUTHENTICATED"


class Overloaded(NotReady):
    pass


def _json(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(value, default=str, separators=(",", ":")), status, headers, media_type="application/json"
    )


class Service:
    """The running state behind the routes: the graph, its loader and alias follower, the log, the metrics."""

    def __init__(self, graph: Graph, options: Options) -> None:
        self.graph, self.options = graph, options
        self.log = PredictionLog(options.home, max_queue=options.log_queue) if options.log_predictions else None
        self.metrics = Metrics(self._state)
        self.limiter = CapacityLimiter(options.threads)
        self.in_flight = 0
        self.answer_s: float | None = None  # moving average of the graph's answer time
        self.load_error: str | None = None
        self._stop = threading.Event()
        self._follower: threading.Thread | None = None

    def _state(self) -> dict[str, Any]:
        return {"in_flight": self.in_flight, "ready": self.graph.ready, "models": self.graph.models(), "log": self.log}

    # -- background: first load, then following aliases ------------------------------------------------------
    def start(self) -> None:
        self._follower = threading.Thread(target=self._follow, name="nbmlops-serve-follow", daemon=True)
        self._follower.start()

    def first_load(self) -> None:
        try:
            self.graph.load(self.options.home)
        except Exception as exc:  # noqa: BLE001 - reported; the follower retries
            self.load_error = f"{type(exc).__name__}: {exc}"
            log.error("serving %s: %s (retrying every %ss)", self.graph.name, self.load_error, self.options.poll_s)

    def _follow(self) -> None:
        while not self._stop.is_set():
            try:
                if not self.graph.ready:
                    self.graph.load(self.options.home)
                    self.load_error = None
                else:
                    for model in self.graph.models():
                        if model.follows:
                            model.refresh()
                    self.graph.refresh_steps()  # feature set versions, off the request path
            except Exception as exc:  # noqa: BLE001 - not loaded yet (or the registry is unreachable): retry
                if str(exc) != self.load_error:
                    log.error("serving %s: %s: %s", self.graph.name, type(exc).__name__, exc)
                self.load_error = f"{type(exc).__name__}: {exc}"
            self._stop.wait(self.options.poll_s)

    def stop(self) -> None:
        self._stop.set()
        if self._follower is not None:
            self._follower.join(10)
        if self.log is not None:
            self.log.drain(10)
            self.log.close()

    # -- requests --------------------------------------------------------------------------------------------
    def check_token(self, request: Request) -> None:
        token = self.options.token
        if not token:
            return
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            raise Unauthorized("this server needs 'Authorization: Bearer <token>' (see --token)")

    async def body(self, request: Request) -> bytes:
        limit = self.options.max_body_bytes
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            raise TooLarge(f"the body is {int(length)} bytes, over this server's limit of {limit}")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise TooLarge(f"the body is over this server's limit of {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    async def score(self, request_id: str, parse: Callable[[], Any]) -> Result:
        if not self.graph.ready:
            raise NotReady(f"the model is not loaded yet{f' ({self.load_error})' if self.load_error else ''}")
        if self.in_flight >= self.options.max_pending:
            raise Overloaded(
                f"{self.in_flight} requests are queued or running (the bound is "
                f"{self.options.max_pending}): retry shortly"
            )
        self.in_flight += 1
        try:
            if self.answer_s is not None and self.answer_s < self.options.inline_below_s:
                result = self._answer(request_id, parse)  # faster than the hop to a thread and back
            else:
                result = await to_thread.run_sync(self._answer, request_id, parse, limiter=self.limiter)
        finally:
            self.in_flight -= 1
        if self.log is not None:
            self.log.submit(result)
        return result

    def _answer(self, request_id: str, parse: Callable[[], Any]) -> Result:
        started = time.perf_counter()
        try:
            return self.graph.answer(parse(), request_id=request_id)
        finally:
            took = time.perf_counter() - started  # errors count too: a slow failure must not run inline
            self.answer_s = took if self.answer_s is None else 0.9 * self.answer_s + 0.1 * took


def _route(
    service: Service, name: str, handler: Callable[[Request, str], Awaitable[Response]], *, open_route: bool = False
) -> Callable[[Request], Awaitable[Response]]:
    """Auth, the request id, error answers and metrics around one route."""

    async def endpoint(request: Request) -> Response:
        started = time.perf_counter()
        request_id = service.graph.new_request_id()  # NAME-HEX: log_label finds the model from it
        try:
            if not open_route:
                service.check_token(request)
            response = await handler(request, request_id)
        except ServingError as exc:
            response = _error(exc, request_id)
        except Exception as exc:  # noqa: BLE001 - a bug answers 500 with the request id; the server goes on
            log.exception("request %s on %s failed", request_id, name)
            response = _json(
                {"error_code": "INTERNAL_ERROR", "message": f"{type(exc).__name__}: {exc}", "request_id": request_id},
                500,
            )
        response.headers.setdefault("x-request-id", request_id)
        service.metrics.observe(name, response.status_code, time.perf_counter() - started)
        return response

    return endpoint


def _error(exc: ServingError, request_id: str) -> Response:
    headers = {"retry-after": "1"} if exc.status == 503 else None
    if exc.status == 401:
        headers = {"www-authenticate": "Bearer"}
    return _json(
        {"error_code": exc.code, "message": str(exc), "request_id": request_id, "detail": exc.detail},
        exc.status,
        headers,
    )


def create_app(graph: Graph, options: Options | None = None) -> Starlette:
    """The Starlette app serving `graph`; models load in the background once it starts (GET /ready says when)."""
    options = options or Options()
    service = Service(graph, options)

    async def predict(request: Request, request_id: str) -> Response:
        body = await service.body(request)
        result = await service.score(request_id, lambda: parse_predict(body))
        return _json(result.body(), headers={"x-model-version": result.model_version})

    async def invocations(request: Request, request_id: str) -> Response:
        body = await service.body(request)
        kind = request.headers.get("content-type", "application/json")
        result = await service.score(request_id, lambda: parse_invocations(body, kind))
        return _json({"predictions": result.predictions}, headers={"x-model-version": result.model_version})

    async def labels(request: Request, request_id: str) -> Response:
        data = _labels(await service.body(request))
        if service.log is None:
            raise NotReady("this server was started without prediction logging, so labels have nowhere to go")
        model = data.get("model") or service.graph.name
        rows = data["labels"]
        if not service.log.submit_labels(model, [r["id"] for r in rows], [r["label"] for r in rows]):
            raise Overloaded("the log queue is full: retry shortly")
        return _json({"accepted": len(rows), "model": model}, 202)

    async def health(request: Request, request_id: str) -> Response:
        return _json({"status": "ok"})

    async def ready(request: Request, request_id: str) -> Response:
        if not graph.ready:
            raise NotReady(f"the model is not loaded yet{f' ({service.load_error})' if service.load_error else ''}")
        return _json({"ready": True, "model_version": graph.model_version})

    async def ping(request: Request, request_id: str) -> Response:
        # MLflow's scoring server's readiness probe: a newline, 200 once the model is loaded, 404 before
        return Response("\n", status_code=200 if graph.ready else 404, media_type="application/json")

    async def metrics(request: Request, request_id: str) -> Response:
        return Response(service.metrics.text(), media_type=CONTENT_TYPE)

    async def index(request: Request, request_id: str) -> Response:
        return _json(
            {
                **graph.describe(),
                "ready": graph.ready,
                "routes": ["/predict", "/invocations", "/labels", "/health", "/ready", "/ping", "/metrics"],
            }
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # a first load before accepting connections: each of several workers takes requests only once it can
        # answer them; a model that can't load yet is retried in the background while /ready says 503
        await to_thread.run_sync(service.first_load)
        service.start()
        try:
            yield
        finally:
            await to_thread.run_sync(service.stop)

    routes = [
        Route("/predict", _route(service, "/predict", predict), methods=["POST"]),
        Route("/invocations", _route(service, "/invocations", invocations), methods=["POST"]),
        Route("/labels", _route(service, "/labels", labels), methods=["POST"]),
        Route("/health", _route(service, "/health", health, open_route=True), methods=["GET"]),
        Route("/ready", _route(service, "/ready", ready), methods=["GET"]),
        Route("/ping", _route(service, "/ping", ping), methods=["GET"]),
        Route("/metrics", _route(service, "/metrics", metrics), methods=["GET"]),
        Route("/", _route(service, "/", index), methods=["GET"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.service = service
    return app


def _labels(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from None
    if isinstance(data, dict) and "labels" not in data and "id" in data:
        data = {"model": data.get("model"), "labels": [data]}
    rows = data.get("labels") if isinstance(data, dict) else None
    if (
        not isinstance(rows, list)
        or not rows
        or not all(isinstance(r, dict) and "id" in r and "label" in r for r in rows)
    ):
        raise BadRequest('the body must be {"labels": [{"id": ..., "label": ...}, ...]} (ids from the responses)')
    return data
