"""The server's Prometheus metrics (text format at GET /metrics), one registry per server so several servers in
one process (tests, notebooks) count apart.

    nbmlops_requests_total{route,status}            every answered request, by status
    nbmlops_request_errors_total{route,status}      the 4xx/5xx among them
    nbmlops_request_latency_seconds{route}          histogram, from the body read to the response
    nbmlops_requests_in_flight                      requests queued or running (503 past the bound)
    nbmlops_model_info{step,version}                1 for each model version serving now
    nbmlops_model_swaps_total{step}                 alias moves followed
    nbmlops_model_load_failures_total{step}         versions that failed to load (the old one kept serving)
    nbmlops_model_load_failure_info{step,version,reason}  the last failed version per step
    nbmlops_prediction_log_*                        rows logged, dropped (queue full), queue depth, write errors
    nbmlops_shadow_predictions_total{agree}         shadow predictions equal / not equal to the answer given
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _State:
    """Reads the graph's models, the log and the in-flight count when Prometheus scrapes."""

    def __init__(self, read: Callable[[], dict[str, Any]]) -> None:
        self.read = read

    def describe(self) -> list[Any]:
        return []  # values appear only at collect time

    def collect(self) -> Iterator[Any]:
        state = self.read()
        gauge = GaugeMetricFamily("nbmlops_requests_in_flight", "requests queued or running")
        gauge.add_metric([], state["in_flight"])
        yield gauge
        ready = GaugeMetricFamily("nbmlops_ready", "1 once every model step is loaded")
        ready.add_metric([], 1.0 if state["ready"] else 0.0)
        yield ready
        info = GaugeMetricFamily("nbmlops_model_info", "model versions serving now", labels=["step", "version"])
        swaps = CounterMetricFamily("nbmlops_model_swaps", "alias moves followed", labels=["step"])
        failures = CounterMetricFamily("nbmlops_model_load_failures", "versions that failed to load", labels=["step"])
        last = GaugeMetricFamily(
            "nbmlops_model_load_failure_info",
            "the last version that failed to load",
            labels=["step", "version", "reason"],
        )
        for model in state["models"]:
            if model.current is not None:
                info.add_metric([model.uri, model.current.uri], 1.0)
            swaps.add_metric([model.uri], model.swaps)
            failures.add_metric([model.uri], len(model.failures))
            if model.failures:
                failure = model.failures[-1]
                last.add_metric([model.uri, failure.version, failure.reason[:200]], 1.0)
        yield from (info, swaps, failures, last)
        log = state["log"]
        if log is not None:
            for name, value, what in (
                ("rows", log.logged_rows, "prediction rows written to the log"),
                ("dropped_rows", log.dropped_rows, "rows dropped: the log queue was full"),
                ("write_errors", log.write_errors, "log writes that failed"),
                ("labels", log.labels_logged, "labels written"),
            ):
                counter = CounterMetricFamily(f"nbmlops_prediction_log_{name}", what)
                counter.add_metric([], value)
                yield counter
            depth = GaugeMetricFamily("nbmlops_prediction_log_queue_depth", "batches waiting for the log thread")
            depth.add_metric([], log.depth)
            yield depth
            shadow = CounterMetricFamily(
                "nbmlops_shadow_predictions", "shadow predictions compared with the answer", labels=["agree"]
            )
            shadow.add_metric(["true"], log.shadow_agree)
            shadow.add_metric(["false"], log.shadow_disagree)
            shadow.add_metric(["error"], log.shadow_errors)
            yield shadow


class Metrics:
    def __init__(self, read_state: Callable[[], dict[str, Any]]) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.requests = Counter("nbmlops_requests", "answered requests", ["route", "status"], registry=self.registry)
        self.errors = Counter(
            "nbmlops_request_errors", "requests answered with 4xx/5xx", ["route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "nbmlops_request_latency_seconds", "time to answer", ["route"], buckets=_BUCKETS, registry=self.registry
        )
        self.registry.register(_State(read_state))
        # set where several processes answer one address (uvicorn workers, Ray Serve replicas): shared_metrics.py
        self.gather: Callable[[bytes], bytes] | None = None

    def observe(self, route: str, status: int, seconds: float) -> None:
        code = str(status)
        self.requests.labels(route, code).inc()
        if status >= 400:
            self.errors.labels(route, code).inc()
        self.latency.labels(route).observe(seconds)

    def own_text(self) -> bytes:
        return generate_latest(self.registry)

    def text(self) -> bytes:
        own = self.own_text()
        return own if self.gather is None else self.gather(own)


def merge(texts: Mapping[str, bytes], label: str = "replica") -> bytes:
    """One exposition of several processes' metrics (text format), each sample labelled with its process, so
    every family stays one block and a scrape sees all of them, not only the process that answered it."""
    from prometheus_client.metrics_core import Metric
    from prometheus_client.parser import text_string_to_metric_families

    families: dict[str, Metric] = {}
    for source, text in sorted(texts.items()):
        for family in text_string_to_metric_families(text.decode()):
            into = families.setdefault(family.name, Metric(family.name, family.documentation, family.type))
            into.samples.extend(s._replace(labels={**s.labels, label: source}) for s in family.samples)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Fixed(list(families.values())))
    return generate_latest(registry)


class _Fixed:
    def __init__(self, families: list[Any]) -> None:
        self.families = families

    def collect(self) -> list[Any]:
        return self.families
