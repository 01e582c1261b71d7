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
    from ivr.dispatch.feature import Dispatcher
    from ivr.escalation.service import Escalations
    from ivr.nodes.service import Nodes
    from ivr.oncall.console import OnCallDesk
    from ivr.outbound import Outbound
    from ivr.portal import Portal
    from ivr.privacy.run import DailyPurge
    from ivr.putthrough.service import PutThroughs
    from ivr.scripts.feature import ScriptDesk
    from ivr.webphone.service import BrowserPhones

    portal = Portal(services)
    putthroughs = PutThroughs(services, portal)
    return [
        Outbound(services),  # first: the others count the calls out it sees
        Reconciler(services),  # the records against Asterisk's own account of the calls
        Nodes(services),  # a cluster's nodes: heartbeats, the calls of a node gone closed
        Escalations(services),  # first: it reads the message's call record of the event
        portal,  # the operator console (/console) and the supervisor page
        # after the console: it reads who is free from the console's board
        CampaignDialer(services, portal),
        BillingSchedule(services),  # after the dialer: it reads the campaigns it loaded
        putthroughs,  # holds and put-throughs from the console's cards
        # after put-through: a script's end may put the caller through
        ScriptDesk(services, portal, putthroughs.put_through),
        OnCallDesk(services, portal),  # who is on call, on the card
        BrowserPhones(services, portal),  # the phone in the console page (WebRTC)
        DailyPurge(services),  # personal data past each client's retention
        Area(services),  # the clients' reserved area (/area)
        Dispatcher(services),  # messages to the clients' own systems (webhooks)
    ]
