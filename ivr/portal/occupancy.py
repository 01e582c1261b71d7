"""Today's occupancy and inbound service level, live: for the supervisor's page and /metrics.

Occupancy is the share of an operator's logged-in time spent talking or writing up a call
(on call, on hold, putting through, wrap-up), the industry's definition (handle time over
staffed time). The tally integrates each operator's state between two looks at the board:
the portal looks at every change the AMI events make and at every read, so the time of each
state is counted to the second. It is this engine's own account since it started (or since
midnight, for today's figures); the per-queue figures come from the stored queue events, so
they cover every engine and survive a restart.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from ivr.portal.board import ON_CALL, ON_HOLD, PUTTING_THROUGH, WRAP_UP, Live

BUSY = frozenset({ON_CALL, ON_HOLD, PUTTING_THROUGH, WRAP_UP})
CAMPAIGN_QUEUE_PREFIX = "cmp-"  # the campaigns' own queues are not inbound


@dataclass
class Time:
    logged_in: float = 0.0  # seconds at the console with a registered phone
    busy: float = 0.0  # of which talking or writing up

    @property
    def occupancy(self) -> float | None:
        return self.busy / self.logged_in if self.logged_in else None


class Tally:
    def __init__(self) -> None:
        self.today: dict[str, Time] = defaultdict(Time)
        self.total: dict[str, Time] = defaultdict(Time)  # since the engine started
        # Today's busy seconds per call (linkedid; "" when the call is not known): whose work
        # the time was, for the features that tell their calls apart (campaigns).
        self.calls: dict[str, float] = defaultdict(float)
        self._state: dict[str, tuple[bool, bool, str]] = {}  # operator -> logged in, busy, call
        self._at: datetime | None = None
        self._day: datetime | None = None

    def observe(self, now: datetime, since: datetime, operators: Mapping[str, Live]) -> None:
        """Count the time since the last look in the states seen then; remember today's."""
        if self._day != since:
            self.today.clear()
            self.calls.clear()
            self._day = since
        if self._at is not None and now > self._at:
            seconds = (now - max(self._at, since)).total_seconds()
            for operator, (logged_in, busy, call) in self._state.items():
                if logged_in and seconds > 0:
                    for times in (self.today[operator], self.total[operator]):
                        times.logged_in += seconds
                        times.busy += seconds if busy else 0.0
                    if busy:
                        self.calls[call] += seconds
        self._at = now
        self._state = {
            op: (live.sessions > 0 and live.phone != "offline", live.state in BUSY,
                 live.on_call or live.last_call or "")
            for op, live in operators.items()
        }  # fmt: skip

    def overall(self) -> Time:
        out = Time()
        for times in self.today.values():
            out.logged_in += times.logged_in
            out.busy += times.busy
        return out


@dataclass(frozen=True)
class Split:
    """Today's occupancy in two parts that add up to it: the busy time on outbound calls (the
    campaigns' calls, talking and writing up) and the rest, inbound, over the same logged-in
    time."""

    inbound: float | None
    outbound: float | None

    @classmethod
    def of(cls, overall: Time, outbound_busy: float) -> Split:
        if not overall.logged_in:
            return cls(None, None)
        outbound = min(outbound_busy, overall.busy)
        return cls((overall.busy - outbound) / overall.logged_in, outbound / overall.logged_in)


@dataclass
class QueueDay:
    queue: str
    offered: int = 0
    answered: int = 0
    within: int = 0  # answered within the service level's seconds
    abandoned: int = 0
    wait: float = 0.0  # summed over the answered

    @property
    def service_level(self) -> float | None:
        """Answered within the seconds, over the callers who were offered and are done."""
        done = self.answered + self.abandoned
        return self.within / done if done else None

    @property
    def asa(self) -> float | None:
        return self.wait / self.answered if self.answered else None

    @property
    def abandon_rate(self) -> float | None:
        done = self.answered + self.abandoned
        return self.abandoned / done if done else None


class QueueDays:
    """Each inbound queue's day from its queue events (kind, queue, wait), as they come."""

    def __init__(self, within: int) -> None:
        self.within = within
        self.days: dict[str, QueueDay] = {}
        self._day: datetime | None = None

    def start(self, since: datetime) -> None:
        if self._day != since:
            self.days.clear()
            self._day = since

    def add(self, kind: str, queue: str | None, wait: int | None) -> None:
        if not queue or queue.startswith(CAMPAIGN_QUEUE_PREFIX):
            return
        day = self.days.get(queue) or self.days.setdefault(queue, QueueDay(queue))
        if kind == "join":
            day.offered += 1
        elif kind == "connect":
            day.answered += 1
            day.wait += wait or 0
            day.within += (wait or 0) <= self.within
        elif kind == "abandon":
            day.abandoned += 1


def per_queue(
    events: Iterable[tuple[str, str | None, int | None]], within: int
) -> dict[str, QueueDay]:
    """(kind, queue, wait) of the stored queue events -> each inbound queue's day."""
    days = QueueDays(within)
    for kind, queue, wait in events:
        days.add(kind, queue, wait)
    return days.days


class Figures(Collector):
    """/metrics: each operator's seconds logged in and busy (counters: occupancy is their
    ratio over any range), today's occupancy, and each inbound queue's day."""

    def __init__(
        self, tally: Tally, queues: QueueDays, outbound: Callable[[], float] = lambda: 0.0
    ) -> None:
        self.tally = tally
        self.queues = queues
        self.outbound = outbound  # today's busy seconds on outbound calls (the features')

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        seconds = CounterMetricFamily(
            "ivr_operator_seconds",
            "Seconds each operator was logged in, and busy (talking or in wrap-up)",
            labels=["operator", "state"],
        )
        today = GaugeMetricFamily(
            "ivr_operator_occupancy_today",
            "Share of today's logged-in time spent talking or in wrap-up",
            labels=["operator"],
        )
        for operator, times in sorted(self.tally.total.items()):
            seconds.add_metric([operator, "logged_in"], times.logged_in)
            seconds.add_metric([operator, "busy"], times.busy)
        for operator, times in sorted(self.tally.today.items()):
            if times.occupancy is not None:
                today.add_metric([operator], times.occupancy)
        overall = self.tally.overall()
        parts = GaugeMetricFamily(
            "ivr_occupancy_part_today",
            "Today's occupancy of all operators split by the work: inbound and outbound add up"
            " to the whole",
            labels=["part"],
        )
        if overall.occupancy is not None:
            today.add_metric(["all"], overall.occupancy)
            split = Split.of(overall, self.outbound())
            parts.add_metric(["inbound"], split.inbound or 0.0)
            parts.add_metric(["outbound"], split.outbound or 0.0)
        yield seconds
        yield today
        yield parts
        names = {
            "offered": "Callers who joined the queue today",
            "answered": "Callers answered today",
            "answered_within": "Callers answered within the service level's seconds today",
            "abandoned": "Callers who hung up waiting today",
        }
        families = {
            key: GaugeMetricFamily(f"ivr_queue_{key}_today", text, labels=["queue"])
            for key, text in names.items()
        }
        level = GaugeMetricFamily(
            "ivr_queue_service_level_today",
            "Answered within the service level's seconds over answered and abandoned, today",
            labels=["queue"],
        )
        asa = GaugeMetricFamily(
            "ivr_queue_asa_today_seconds", "Average speed of answer today", labels=["queue"]
        )
        abandon_rate = GaugeMetricFamily(
            "ivr_queue_abandon_rate_today",
            "Callers who hung up waiting over answered and abandoned, today",
            labels=["queue"],
        )
        for day in self.queues.days.values():
            families["offered"].add_metric([day.queue], day.offered)
            families["answered"].add_metric([day.queue], day.answered)
            families["answered_within"].add_metric([day.queue], day.within)
            families["abandoned"].add_metric([day.queue], day.abandoned)
            if day.service_level is not None:
                level.add_metric([day.queue], day.service_level)
            if day.asa is not None:
                asa.add_metric([day.queue], day.asa)
            if day.abandon_rate is not None:
                abandon_rate.add_metric([day.queue], day.abandon_rate)
        yield from families.values()
        yield level
        yield asa
        yield abandon_rate
