"""The features the engine runs, in the order they hear each AMI event and start.

A new feature is a package with a Feature subclass, added here; the engine does not change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ivr.feature import Feature
    from ivr.services import Services


def build(services: Services) -> list[Feature]:
    from ivr.account.reconcile import Reconciler
    from ivr.area import Area
    from ivr.billing.schedule import BillingSchedule
    from ivr.campaigns.dialer import CampaignDialer
    from ivr.escalation.service import Escalations
    from ivr.nodes.service import Nodes
    from ivr.outbound import Outbound
    from ivr.portal import Portal
    from ivr.privacy.run import DailyPurge
    from ivr.putthrough.service import PutThroughs

    portal = Portal(services)
    return [
        Outbound(services),  # first: the others count the calls out it sees
        Reconciler(services),  # the records against Asterisk's own account of the calls
        Nodes(services),  # a cluster's nodes: heartbeats, the calls of a node gone closed
        Escalations(services),  # first: it reads the message's call record of the event
        portal,  # the operator console (/console) and the supervisor page
        # after the console: it reads who is free from the console's board
        CampaignDialer(services, portal),
        BillingSchedule(services),  # after the dialer: it reads the campaigns it loaded
        PutThroughs(services, portal),  # holds and put-throughs from the console's cards
        DailyPurge(services),  # personal data past each client's retention
        Area(services),  # the clients' reserved area (/area)
    ]
