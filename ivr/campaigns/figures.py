"""Each campaign's day, live, for the supervisor's page and /metrics: lines ringing now, calls
placed, answered by a person, put to an operator, dropped, the drop rate the authority's cap is
on (dropped over answered) beside the rate the dialer aims under, connects per operator-hour,
and the campaign's share of the operators' time (its part of occupancy).

The counts come from today's attempt rows (every engine's); the time from the console's tally
(this engine's account of each operator's logged-in time and of the busy time on each call),
so the campaigns' shares and the inbound part add up to the occupancy the page shows."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import select

from ivr.campaigns import eligibility as el
from ivr.campaigns import floor, store
from ivr.campaigns.model import PREDICTIVE, Campaign
from ivr.campaigns.models import Attempt
from ivr.campaigns.predict import AMD_PEOPLE_MISSED

if TYPE_CHECKING:
    from ivr.campaigns.store import Sessions
    from ivr.portal.occupancy import Tally

# campaign, linkedid, placed, answered, amd, connected, dropped, ended
Row = tuple[
    str, str, datetime, datetime | None, str | None, datetime | None, datetime | None,
    datetime | None,
]  # fmt: skip
OK, AIM, CAP = "ok", "aim", "cap"  # the drop rate: under the aim, at or over it, at the cap


def aim(campaign: Campaign, cap: float) -> float:
    """The drop rate the dialer paces this campaign under: the setting's cap (never above the
    legal one); less the people machine detection hangs up on, for a predictive campaign with
    AMD on (the dialer aims that much lower: ivr.campaigns.predict.plan)."""
    cap = min(cap, floor.ABANDON_CAP)
    if campaign.mode == PREDICTIVE and campaign.amd:
        return round(max(0.0, cap - AMD_PEOPLE_MISSED), 6)  # 0.02, not 0.019999999999999997
    return cap


@dataclass
class CampaignDay:
    campaign: str
    mode: str
    aim: float  # the drop rate the dialer aims under (the legal cap for modes not dialling ahead)
    placed: int = 0
    answered: int = 0  # by a person
    connected: int = 0  # put to an operator
    dropped: int = 0  # as the authority counts them (ivr.campaigns.floor.abandoned)
    ringing: int = 0  # lines placed and not answered yet, by every engine
    busy: float = 0.0  # operators' seconds on its calls today: talking and writing up
    logged_in: float = 0.0  # every operator's logged-in seconds today
    staffed: float = 0.0  # logged-in seconds today of the operators of its groups

    @property
    def drop_rate(self) -> float | None:
        return self.dropped / self.answered if self.answered else None

    @property
    def level(self) -> str:
        """How the drop rate stands: under the aim, at or over it, at the legal cap."""
        rate = self.drop_rate
        if rate is None or rate < self.aim:
            return OK
        return CAP if rate >= floor.ABANDON_CAP else AIM

    @property
    def share(self) -> float | None:
        """Its part of occupancy: its busy time over all operators' logged-in time."""
        return self.busy / self.logged_in if self.logged_in else None

    @property
    def connects_per_hour(self) -> float | None:
        """Calls put to an operator per logged-in hour of the operators who take its calls."""
        return self.connected / (self.staffed / 3600) if self.staffed else None


def days(
    campaigns: Iterable[Campaign],
    rows: Iterable[Row],
    now: datetime,
    running: Collection[str],
    calls: Mapping[str, float],
    logged_in: Mapping[str, float],
    cap: float,
) -> dict[str, CampaignDay]:
    """Each campaign running now or that placed a call today -> its day. `calls` is the busy
    seconds of each call today (linkedid), `logged_in` each operator's seconds today."""
    by_id = {c.id: c for c in campaigns}
    out = {
        c.id: CampaignDay(
            c.id, c.mode, aim(c, cap), logged_in=sum(logged_in.values()),
            staffed=sum(logged_in.get(op, 0.0) for op in c.operators),
        )
        for c in by_id.values()
    }  # fmt: skip
    placed_today: set[str] = set()
    for campaign_id, linkedid, placed, answered, amd, connected, dropped, ended in rows:
        campaign = by_id.get(campaign_id)
        if campaign is None:
            continue  # its file is gone: nothing to show it by
        day = out[campaign_id]
        if ended is None and answered is None:
            day.ringing += 1
        if placed < el.local_midnight(now, campaign.zone):
            continue
        placed_today.add(campaign_id)
        day.placed += 1
        day.answered += answered is not None and not (amd or "").upper().startswith("MACHINE")
        day.connected += connected is not None
        day.dropped += floor.abandoned(answered, amd, connected, dropped, ended)
        day.busy += calls.get(linkedid, 0.0)
    return {
        key: day for key, day in out.items()
        if key in running or key in placed_today or day.ringing
    }  # fmt: skip


def outbound_busy(rows: Iterable[Row], calls: Mapping[str, float]) -> float:
    """Today's busy seconds on any campaign's calls (a campaign whose file is gone too)."""
    return sum(calls.get(linkedid, 0.0) for linkedid in {row[1] for row in rows})


async def rows_today(sessions: Sessions, now: datetime) -> list[Row]:
    """Every attempt placed since the earliest midnight of any zone, and every one still open."""
    since = now - timedelta(days=1, hours=14)  # no zone's midnight is further back
    async with sessions() as session:
        result = await session.execute(
            select(
                Attempt.campaign_id, Attempt.linkedid, Attempt.placed_at, Attempt.answered_at,
                Attempt.amd, Attempt.connected_at, Attempt.dropped_at, Attempt.ended_at,
            ).where((Attempt.placed_at >= since) | Attempt.ended_at.is_(None))
        )  # fmt: skip
        return [tuple(row) for row in result.all()]  # type: ignore[misc]


class CampaignFigures(Collector):
    """/metrics: each campaign's day, from the rows the dialer's housekeeping reads every few
    seconds and the console's tally as it is at the scrape."""

    def __init__(self, cap: float) -> None:
        self.cap = cap
        self.campaigns: tuple[Campaign, ...] = ()
        self.rows: list[Row] = []  # replaced whole by the dialer's housekeeping
        self.running: frozenset[str] = frozenset()
        self.now: datetime | None = None
        self.tally: Tally | None = None  # the console's, when this engine serves one

    async def read(self, sessions: Sessions, campaigns: Iterable[Campaign], now: datetime) -> None:
        """Today's rows and which campaigns run, afresh."""
        states = await store.states(sessions)
        rows = await rows_today(sessions, now)
        self.campaigns, self.rows, self.now = tuple(campaigns), rows, now
        self.running = frozenset(k for k, s in states.items() if s.status == store.RUNNING)

    def days(self) -> dict[str, CampaignDay]:
        if self.now is None:
            return {}
        calls = self.tally.calls if self.tally is not None else {}
        logged_in = {op: t.logged_in for op, t in self.tally.today.items()} if self.tally else {}
        return days(self.campaigns, self.rows, self.now, self.running, calls, logged_in, self.cap)

    def busy(self) -> float:
        return outbound_busy(self.rows, self.tally.calls) if self.tally is not None else 0.0

    def collect(self) -> Iterator[GaugeMetricFamily]:
        names = {
            "placed": ("ivr_campaign_placed_today", "Calls placed today"),
            "answered": ("ivr_campaign_answered_today", "Calls answered by a person today"),
            "connected": ("ivr_campaign_connected_today", "Calls put to an operator today"),
            "dropped": (
                "ivr_campaign_dropped_today",
                "Answered calls dropped today (no operator in time)",
            ),
            "ringing": ("ivr_campaign_ringing", "Lines placed and not answered yet, now"),
            "aim": (
                "ivr_campaign_drop_aim",
                "The drop rate the dialer paces the campaign under (the legal cap is 0.03)",
            ),
        }
        rates = {
            "drop_rate": (
                "ivr_campaign_drop_rate_today",
                "Dropped over answered today (the legal cap is on this)",
            ),
            "share": (
                "ivr_campaign_occupancy_today",
                "Operators' time on the campaign's calls (talking, writing up) over all"
                " operators' logged-in time, today: its part of occupancy",
            ),
            "connects_per_hour": (
                "ivr_campaign_connects_per_operator_hour_today",
                "Calls put to an operator per logged-in hour of the campaign's operators, today",
            ),
        }
        families = {
            key: GaugeMetricFamily(name, text, labels=["campaign"])
            for key, (name, text) in {**names, **rates}.items()
        }
        for campaign, day in sorted(self.days().items()):
            for key in names:
                families[key].add_metric([campaign], getattr(day, key))
            for key in rates:
                value = getattr(day, key)
                if value is not None:
                    families[key].add_metric([campaign], value)
        yield from families.values()
