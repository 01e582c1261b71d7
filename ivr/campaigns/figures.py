"""Each campaign's day in /metrics: calls placed, answered by a person, put to an operator,
dropped, and the drop rate the authority's cap is on (dropped over answered)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from ivr.campaigns.activity import Today


class CampaignFigures(Collector):
    def __init__(self) -> None:
        self.today: Mapping[str, Today] = {}  # replaced whole by the dialer's housekeeping

    def collect(self) -> Iterator[GaugeMetricFamily]:
        names = {
            "placed": "Calls placed today",
            "answered": "Calls answered by a person today",
            "connected": "Calls put to an operator today",
            "dropped": "Answered calls dropped today (no operator in time)",
        }
        families = {
            key: GaugeMetricFamily(f"ivr_campaign_{key}_today", text, labels=["campaign"])
            for key, text in names.items()
        }
        rate = GaugeMetricFamily(
            "ivr_campaign_drop_rate_today",
            "Dropped over answered today (the legal cap is on this)",
            labels=["campaign"],
        )
        for campaign, day in sorted(self.today.items()):
            for key, family in families.items():
                family.add_metric([campaign], getattr(day, key))
            if day.answered:
                rate.add_metric([campaign], day.dropped / day.answered)
        yield from families.values()
        yield rate
