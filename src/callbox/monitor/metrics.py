"""Prometheus metrics of one server (``GET /metrics``), with the official client library and a
registry of the server's own (no module-level state: two servers in one process stay apart).

Counted as things happen (cheap: a dictionary lookup and two additions per invocation):
    callbox_invocations_total{service, environment, function, status}  status: 2xx .. 5xx
    callbox_invocation_duration_seconds{service, environment, function}  (histogram)
    callbox_gateway_responses_total{code}     every status the gateway answered (429, 504, ...)
    callbox_builds_total{runtime, status} and callbox_build_duration_seconds{runtime}
Read when scraped (nothing on the hot path):
    callbox_worker_starts_total{runtime}      workers started (cold starts)
    callbox_workers{runtime}                  worker processes alive
    callbox_log_stream_subscribers            live log streams open
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_DURATIONS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_CLASSES = {1: "1xx", 2: "2xx", 3: "3xx", 4: "4xx", 5: "5xx"}


class _Live(Collector):
    """Gauges and counters read from the server's parts when scraped."""

    def __init__(self) -> None:
        self.workers: Callable[[], dict[str, int]] = dict
        self.starts: Callable[[], dict[str, int]] = dict
        self.subscribers: Callable[[], int] = lambda: 0

    def collect(self) -> Iterator[Metric]:
        starts = CounterMetricFamily(
            "callbox_worker_starts", "Worker processes started (cold starts)", labels=["runtime"]
        )
        for runtime, count in sorted(self.starts().items()):
            starts.add_metric([runtime], count)
        yield starts
        workers = GaugeMetricFamily("callbox_workers", "Worker processes alive", labels=["runtime"])
        for runtime, count in sorted(self.workers().items()):
            workers.add_metric([runtime], count)
        yield workers
        yield GaugeMetricFamily(
            "callbox_log_stream_subscribers", "Live log streams open", value=self.subscribers()
        )


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        labels = ["service", "environment", "function"]
        self._invocations = Counter(
            "callbox_invocations",
            "Function invocations by outcome",
            [*labels, "status"],
            registry=self.registry,
        )
        self._duration = Histogram(
            "callbox_invocation_duration_seconds",
            "Time from request to answer of function invocations",
            labels,
            buckets=_DURATIONS,
            registry=self.registry,
        )
        self._responses = Counter(
            "callbox_gateway_responses",
            "Answers of the gateway by HTTP status (429, 504 and other 5xx included)",
            ["code"],
            registry=self.registry,
        )
        self._builds = Counter(
            "callbox_builds", "Builds finished", ["runtime", "status"], registry=self.registry
        )
        self._build_duration = Histogram(
            "callbox_build_duration_seconds",
            "Time builds take, from creation to completed or failed",
            ["runtime"],
            buckets=(0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0),
            registry=self.registry,
        )
        self.live = _Live()
        self.registry.register(self.live)
        # Children of labelled metrics, looked up once per label set (the hot path's cost).
        self._children: dict[tuple[str, ...], tuple[Any, Any]] = {}
        self._codes: dict[int, Any] = {}

    def answered(self, status: int, seconds: float, meta: dict[str, Any] | None) -> None:
        """One gateway answer; ``meta`` when it was an invocation."""
        code = self._codes.get(status)
        if code is None:
            code = self._codes[status] = self._responses.labels(str(status))
        code.inc()
        if meta is None:
            return
        key = (
            str(meta.get("service_sid") or meta.get("service", "local")),
            str(meta.get("environment_sid") or "local"),
            str(meta.get("path", "?")),
            _CLASSES.get(status // 100, "5xx"),
        )
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                self._invocations.labels(*key),
                self._duration.labels(*key[:3]),
            )
        children[0].inc()
        children[1].observe(seconds)

    def build_finished(self, runtime: str, status: str, seconds: float) -> None:
        self._builds.labels(runtime, status).inc()
        self._build_duration.labels(runtime).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
