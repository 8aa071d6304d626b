"""Metrics: what the gateway's answers become when /metrics is scraped (the counting itself is
plain dictionaries, so the rendering is what has to match Prometheus' conventions)."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from callbox.monitor.metrics import Metrics

META = {"service_sid": "ZS1", "environment_sid": "ZE1", "path": "/hello", "request_sid": "RQ1"}


def scrape(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample, keyed by its name and labels."""
    text = metrics.render().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def labels(**values: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(values.items()))


def test_answers_are_counted_by_status_and_invocations_by_class() -> None:
    metrics = Metrics()
    for status in (200, 200, 404, 504):
        metrics.answered(status, 0.002, META)
    metrics.answered(429, 0.0001, None)  # not an invocation: only the gateway's count
    samples = scrape(metrics)
    responses = {
        dict(key)["code"]: value
        for (name, key), value in samples.items()
        if name == "callbox_gateway_responses_total"
    }
    assert responses == {"200": 2, "404": 1, "429": 1, "504": 1}
    where = {"service": "ZS1", "environment": "ZE1", "function": "/hello"}
    invocations = {
        dict(key)["status"]: value
        for (name, key), value in samples.items()
        if name == "callbox_invocations_total"
    }
    assert invocations == {"2xx": 2, "4xx": 1, "5xx": 1}
    assert samples[("callbox_invocation_duration_seconds_count", labels(**where))] == 4


def test_durations_fill_cumulative_buckets_a_value_on_a_bound_included() -> None:
    metrics = Metrics()
    for seconds in (0.001, 0.005, 0.2, 45.0):  # 0.005 is a bound: le="0.005" counts it
        metrics.answered(200, seconds, META)
    samples = scrape(metrics)
    where: dict[str, Any] = {"service": "ZS1", "environment": "ZE1", "function": "/hello"}

    def bucket(le: str) -> float:
        return samples[("callbox_invocation_duration_seconds_bucket", labels(**where, le=le))]

    assert [bucket(le) for le in ("0.005", "0.01", "0.25", "30.0", "+Inf")] == [2, 2, 3, 3, 4]
    assert samples[("callbox_invocation_duration_seconds_sum", labels(**where))] == pytest.approx(
        45.206
    )
    assert samples[("callbox_invocation_duration_seconds_count", labels(**where))] == 4


def test_a_meta_without_sids_is_counted_as_local() -> None:
    metrics = Metrics()
    metrics.answered(200, 0.01, {"path": "/hello"})
    samples = scrape(metrics)
    key = labels(service="local", environment="local", function="/hello", status="2xx")
    assert samples[("callbox_invocations_total", key)] == 1


def test_builds_and_live_readings_are_still_rendered() -> None:
    metrics = Metrics()
    metrics.build_finished("node20", "completed", 3.5)
    metrics.live.workers = lambda: {"node": 2}
    samples = scrape(metrics)
    assert samples[("callbox_builds_total", labels(runtime="node20", status="completed"))] == 1
    assert samples[("callbox_workers", labels(runtime="node"))] == 2
