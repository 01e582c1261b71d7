"""Each campaign's Asterisk queue: its operators, taking the answered calls of a ratio
campaign (and any call whose reserved operator did not answer). Weight 0, below the inbound
groups' queues: an operator with an inbound caller waiting is offered that caller first."""

from __future__ import annotations

from ivr.asterisk.render import Queue, QueueMember
from ivr.campaigns.load import load_campaigns
from ivr.config import Settings
from ivr.routing.model import Rules
from ivr.routing.source import RulesError


def campaign_queues(settings: Settings, rules: Rules) -> list[Queue]:
    try:
        campaigns = (
            load_campaigns(settings.rules, rules, settings) if settings.rules.is_dir() else None
        )
    except RulesError:
        return []  # `ivr check` says what is wrong; the inbound queues are rendered anyway
    if campaigns is None:
        return []
    return [
        Queue(
            id=campaign.queue,
            strategy="leastrecent",
            members=tuple(
                QueueMember(op, rules.operators[op].endpoint) for op in campaign.operators
            ),
            ring_seconds=settings.campaign_drop_wait,
            weight=0,
        )
        for campaign in campaigns.by_id.values()
    ]
