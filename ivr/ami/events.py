"""Every AMI event the engine listens to, named once.

manager.conf lets only these through to the engine's AMI user: without the filter Asterisk
sends an event for every dialplan step and variable set (Newexten, VarSet) and RTCP reports
every few seconds per channel, and the engine spent more CPU parsing and dropping them than
Asterisk spent on the calls. Replies to actions (QueueStatus's lists) are not filtered.
"""

LISTENED = (
    # call records
    "Newchannel",
    "DialBegin",
    "DialEnd",
    "Hangup",
    "HangupRequest",
    "UserEvent",
    # escalation: the outcome of each call it places
    "OriginateResponse",
    # queues: the console and the supervisor's figures
    "QueueCallerJoin",
    "QueueCallerLeave",
    "QueueCallerAbandon",
    "AgentCalled",
    "AgentConnect",
    "AgentComplete",
    "QueueMemberPause",
    # phones: registered or not, ringing, in use, on hold (the console and the supervisor)
    "DeviceStateChange",
    # an operator's phone holding the caller (the hold key of a desk phone or the console's
    # browser phone): Asterisk publishes it on the operator's channel
    "Hold",
    "Unhold",
)

# Events of an operator's phone leg that nobody reads (the console follows an operator through
# DialBegin, DialEnd and Hangup): filtered out by Asterisk, (event, header, exact value).
EXCLUDED = (
    ("Newchannel", "Context", "ivr-operators"),
    ("HangupRequest", "Context", "ivr-operators"),
)
# The AMI classes the engine's user is given (manager.conf), and no more: events of the
# classes it reads, and the actions it sends. Originate needs `originate`; QueuePause
# `agent`; CoreShowChannels and DeviceStateList `reporting`; Redirect, Bridge, Setvar and
# Hangup (holding a caller and putting a call through) `call`; QueueStatus and Ping any
# class. Without `system` and `command`, Asterisk refuses Originate of System/Exec and the
# Command action.
READ_CLASSES = ("call", "agent", "user")
WRITE_CLASSES = ("originate", "agent", "reporting", "call")
