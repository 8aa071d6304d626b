"""Prometheus metrics of one server (``GET /metrics``), with the official client library and a
registry of the server's own (no module-level state: two servers in one process stay apart).

Counted on the gateway's path in plain dictionaries (``_Answers``: a few dictionary updates
per answer, no lock, no metric object; measured in docs/performance.md, "Metrics cost") and
turned into Prometheus families when scraped:
    callbox_invocations_total{service, environment, function, status}  status: 2xx .. 5xx
    callbox_invocation_duration_seconds{service, environment, function}  (histogram)
    callbox_gateway_responses_total{code}     every status the gateway answered (429, 504, ...)
Counted as things happen, with the client library's objects (rare events):
    callbox_builds_total{runtime, status} and callbox_build_duration_seconds{runtime}
Read when scraped (nothing on the hot path):
    callbox_worker_starts_total{runtime}      workers started (cold starts)
    callbox_workers{runtime}                  worker processes alive
    callbox_log_stream_subscribers            live log streams open
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
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


class _Answers(Collector):
    """The gateway's answers, counted in plain dictionaries on the event loop.

    The client library's Counter and Histogram take a lock and walk their buckets on every
    call: measured, /metrics then cost 13 % of a hello world's requests/s. Here an answer costs
    a few dictionary updates; the families are built when scraped (on another thread: each
    read copies first, and a dict or list copy is one step under the GIL)."""

    def __init__(self) -> None:
        self.responses: dict[int, int] = {}  # status -> answers
        self.invocations: dict[tuple[str, str, str, str], int] = {}  # labels + class -> count
        # (service, environment, function) -> [count per bucket (the last is +Inf)..., sum]
        self.durations: dict[tuple[str, str, str], list[float]] = {}

    def collect(self) -> Iterator[Metric]:
        responses = CounterMetricFamily(
            "callbox_gateway_responses",
            "Answers of the gateway by HTTP status (429, 504 and other 5xx included)",
            labels=["code"],
        )
        for status, count in sorted(dict(self.responses).items()):
            responses.add_metric([str(status)], count)
        yield responses
        labels = ["service", "environment", "function"]
        invocations = CounterMetricFamily(
            "callbox_invocations", "Function invocations by outcome", labels=[*labels, "status"]
        )
        for key, count in sorted(dict(self.invocations).items()):
            invocations.add_metric(list(key), count)
        yield invocations
        durations = HistogramMetricFamily(
            "callbox_invocation_duration_seconds",
            "Time from request to answer of function invocations",
            labels=labels,
        )
        for where, counts in sorted((k, list(v)) for k, v in dict(self.durations).items()):
            cumulative, buckets = 0.0, []
            for bound, seen in zip([*map(str, _DURATIONS), "+Inf"], counts, strict=False):
                cumulative += seen
                buckets.append((bound, cumulative))
            durations.add_metric(list(where), buckets, sum_value=counts[-1])
        yield durations

    def answered(self, status: int, seconds: float, meta: dict[str, Any] | None) -> None:
        responses = self.responses
        responses[status] = responses.get(status, 0) + 1
        if meta is None:
            return
        labels = (
            str(meta.get("service_sid") or meta.get("service", "local")),
            str(meta.get("environment_sid") or "local"),
            str(meta.get("path", "?")),
        )
        key = (*labels, _CLASSES.get(status // 100, "5xx"))
        invocations = self.invocations
        invocations[key] = invocations.get(key, 0) + 1
        counts = self.durations.get(labels)
        if counts is None:
            counts = self.durations[labels] = [0.0] * (len(_DURATIONS) + 2)
        counts[bisect_left(_DURATIONS, seconds)] += 1  # le: a value on a bound counts in it
        counts[-1] += seconds


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.answers = _Answers()
        self.registry.register(self.answers)
        self.answered = self.answers.answered  # the gateway's path: no wrapper in between
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

    def build_finished(self, runtime: str, status: str, seconds: float) -> None:
        self._builds.labels(runtime, status).inc()
        self._build_duration.labels(runtime).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
