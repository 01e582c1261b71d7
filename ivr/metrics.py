"""What operations watch: the engine's figures in Prometheus text format, at /metrics.

One registry per engine (no module-level state), built with prometheus_client, the reference
client of the format. Counters only grow; rates (events/s, calls/s) are Prometheus's job.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST
# An AGI route answers in milliseconds; a menu keeps the caller for seconds.
AGI_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
BATCH_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.calls_in_progress = Gauge(
            "ivr_calls_in_progress", "Inbound calls Asterisk has up now", registry=r
        )
        self.calls = Counter(
            "ivr_calls",
            "Inbound calls whose record ended, by client and outcome",
            ["client", "outcome"],
            registry=r,
        )
        self.agi_seconds = Histogram(
            "ivr_agi_route_seconds",
            "Time an AGI route held the call, by route",
            ["route"],
            buckets=AGI_BUCKETS,
            registry=r,
        )
        self.ami_events = Counter("ivr_ami_events", "AMI events received from Asterisk", registry=r)
        self.ami_queue = Gauge(
            "ivr_ami_queue_depth", "AMI events received and not yet handled", registry=r
        )
        self.ami_dropped = Gauge(
            "ivr_ami_events_dropped",
            "AMI events dropped since the engine started, because the queue was full",
            registry=r,
        )
        self.record_batches = Counter(
            "ivr_record_batches", "Record batches written, by result", ["result"], registry=r
        )
        self.record_batch_seconds = Histogram(
            "ivr_record_batch_seconds",
            "Time to write one batch of call facts",
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.record_facts = Counter(
            "ivr_record_facts", "Call facts written to the records", registry=r
        )
        self.records_pending = Gauge(
            "ivr_records_pending", "Call facts waiting for the database", registry=r
        )
        self.records_rebuilt = Counter(
            "ivr_records_rebuilt",
            "Records created or completed from Asterisk's own account",
            registry=r,
        )
        self.rules_reloads = Counter(
            "ivr_rules_reloads", "Rules reloads, by result", ["result"], registry=r
        )

    def watch(self, gauge: Gauge, read: Callable[[], float]) -> None:
        """Read `gauge` from `read()` at each scrape instead of setting it."""
        gauge.set_function(read)

    def batch(self, items: int, seconds: float, ok: bool) -> None:
        """The records writer's report of one batch."""
        self.record_batches.labels("ok" if ok else "error").inc()
        if ok:
            self.record_batch_seconds.observe(seconds)
            self.record_facts.inc(items)

    def text(self) -> bytes:
        return generate_latest(self.registry)
