"""Every channel variable the engine and the dialplan share, named once.

The dialplan templates receive this module as `v`, so a name can only be spelled here.
"""

# Set by the engine for the dialplan to act on.
ROUTE = "IVR_ROUTE"  # what to do next: "operators", "message", "hangup", "failure"
# The overflow chain: IVR_TARGETS_1, IVR_TARGETS_2, ... are Dial() strings (PJSIP/op1&PJSIP/op2)
# tried in turn, each for IVR_RING_TIMEOUT_<n> seconds; after the last, IVR_ROUTE_AFTER.
TARGETS = "IVR_TARGETS"
RING_TIMEOUT = "IVR_RING_TIMEOUT"
ROUTE_AFTER = "IVR_ROUTE_AFTER"  # "message" or "hangup" once no operator answered
# IVR_QUEUE_<n>: when step n rings an operator group, its Asterisk queue (app_queue) instead
# of Dial(); IVR_RING_TIMEOUT_<n> is then the longest wait in that queue.
QUEUE = "IVR_QUEUE"
PRIORITY = "IVR_PRIORITY"  # the decision's queue priority, given to Queue() as QUEUE_PRIO
CLIENT_ID = "IVR_CLIENT_ID"
CLIENT_NAME = "IVR_CLIENT_NAME"
MESSAGE_MAX = "IVR_MESSAGE_MAX"  # longest message the caller may leave, in seconds
MESSAGE_FILE = "IVR_MESSAGE_FILE"  # where Record() writes, without extension
FAILURE_REASON = "IVR_FAILURE_REASON"
ESCALATE = "IVR_ESCALATE"  # the ladder to start once the caller's message is recorded
# On a call the engine places to a ladder's contact: the attempt's id, for the AGI route.
ESCALATION_ATTEMPT = "IVR_ESCALATION_ATTEMPT"

# Putting a caller through: on the call the engine places to the client's person, the
# attempt's id; once the person accepts, the caller's channel to bridge with. On a caller
# on hold, set to 1 by the engine as it takes the caller back (the hold then ends quietly).
PUT_THROUGH = "IVR_PUT_THROUGH"
PUT_THROUGH_CALLER = "IVR_PUT_THROUGH_CALLER"
RESUMED = "IVR_RESUMED"

# Written by the engine: seconds the call may stay in the AGI from now (the dialplan sets a
# short deadline before asking the engine; a menu's wait needs more).
TIMEOUT_ABSOLUTE = "TIMEOUT(absolute)"
PROMPT_ALLOWANCE = 120  # seconds a prompt may play, on top of a menu's wait for a key

# On a call the engine places for an outbound campaign (ivr/campaigns/dialer.py): its
# attempt, whether to detect a machine (1), the operator reserved for it (a Dial() string,
# empty: the campaign's queue), the seconds an answered contact waits for an operator, the
# message played when none takes the call, the recording announcement and file.
CAMPAIGN_ATTEMPT = "IVR_CAMPAIGN_ATTEMPT"
CAMPAIGN_AMD = "IVR_CAMPAIGN_AMD"
CAMPAIGN_OPERATOR = "IVR_CAMPAIGN_OPERATOR"
CAMPAIGN_QUEUE = "IVR_CAMPAIGN_QUEUE"
CAMPAIGN_WAIT = "IVR_CAMPAIGN_WAIT"
CAMPAIGN_DROP_FILE = "IVR_CAMPAIGN_DROP_FILE"
CAMPAIGN_ANNOUNCE = "IVR_CAMPAIGN_ANNOUNCE"
CAMPAIGN_RECORD = "IVR_CAMPAIGN_RECORD"
# The most silence an answered contact may hear, machine detection included (milliseconds):
# the legal floor's (ivr/campaigns/floor.py), so the dialplan never holds its own copy.
CAMPAIGN_SILENCE_MS = "IVR_CAMPAIGN_SILENCE_MS"

# Read from Asterisk.
AGISTATUS = "AGISTATUS"
DIALSTATUS = "DIALSTATUS"
RECORD_STATUS = "RECORD_STATUS"

ALL = [
    ROUTE,
    ROUTE_AFTER,
    TARGETS,
    RING_TIMEOUT,
    QUEUE,
    PRIORITY,
    CLIENT_ID,
    CLIENT_NAME,
    MESSAGE_MAX,
    MESSAGE_FILE,
    FAILURE_REASON,
    ESCALATE,
]


# An operator's phone in the console page is a PJSIP endpoint of its own, named after the
# operator's endpoint with this suffix: a desk phone and the browser may both be registered.
WEB_PHONE_SUFFIX = "-web"


def phones(endpoint: str) -> tuple[str, str]:
    """The operator's two PJSIP endpoints: the desk phone's and the browser's."""
    return (endpoint, endpoint + WEB_PHONE_SUFFIX)


def desk_endpoint(endpoint: str) -> str:
    """The operator's endpoint for either of their phones' endpoints."""
    return endpoint.removesuffix(WEB_PHONE_SUFFIX)


def dial_string(endpoints: list[str] | tuple[str, ...]) -> str:
    """The Dial() argument that rings these operators' phones at once (desk and browser: an
    unregistered one is skipped)."""
    return "&".join(f"PJSIP/{phone}" for endpoint in endpoints for phone in phones(endpoint))
