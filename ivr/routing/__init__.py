"""Routing rules: YAML files -> frozen, checked Rules; evaluate(rules, call, now) -> Decision.

rules = load_rules(Path("routing_rules"))          # RulesError lists FILE:LINE:COL problems
decision = evaluate(rules, CallInfo(called="0611111111", caller="3331234567"), now)
"""

from ivr.routing.decision import CallInfo, ClientCard, Decision, Step
from ivr.routing.evaluate import describe, evaluate
from ivr.routing.holder import RulesHolder
from ivr.routing.load import ParseCache, load_rules
from ivr.routing.model import Client, Group, Ladder, Operator, Prompt, Rules
from ivr.routing.overrides import (
    Override,
    OverrideError,
    Overrides,
    OverridesFile,
    OverrideStore,
)
from ivr.routing.source import Problem, RulesError

__all__ = [
    "CallInfo",
    "Client",
    "ClientCard",
    "Decision",
    "Group",
    "Ladder",
    "Operator",
    "Override",
    "OverrideError",
    "OverrideStore",
    "Overrides",
    "OverridesFile",
    "ParseCache",
    "Problem",
    "Prompt",
    "Rules",
    "RulesError",
    "RulesHolder",
    "Step",
    "describe",
    "evaluate",
    "load_rules",
]
