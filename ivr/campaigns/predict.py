"""Predictive pacing and blending: pure arithmetic the dialer and the simulator both call.

Blending. Inbound callers come first: an operator who frees while an inbound caller waits
takes that caller (the dialer skips operators of a queue with someone waiting, and the
campaigns' queues weigh less than the inbound ones). So in a blended center the inbound
callers are served by two streams: the operators kept idle (`reserve`) and every operator who
finishes a call. With busy operators freeing at rate nu (busy / mean handle time) and inbound
callers arriving at rate lam, the count `idle - queued` is a birth-death chain (up at nu while
below the reserve, down at lam): an arriving caller finds nobody idle with probability
rho**r (rho = lam / nu). The dialer places nothing while an inbound caller waits, so callers
seldom queue two deep and such a caller waits for the next operator to free, an exponential
time of rate nu:

    P(wait > T) = rho**r * exp(-nu * T)

and the reserve is the least r that keeps this under 1 - the service-level target. (The
M/M/1 tail exp(-(nu - lam) T) was the first model: the simulator showed it keeping an
operator idle for a service level of 99 % where 80 % was asked.) When the freeing stream
cannot carry the inbound load on its own (lam >= nu), the reserve is the Erlang C staffing of
the inbound load (M/M/c, the textbook 80/20 sizing) less the operators already talking to
inbound callers, and never more than that. The inbound rate is forecast from the latest
minutes' arrivals (the higher of the last 5 and the last 15 minutes: quick to rise, slow to
fall).

Predictive pacing. Lines are placed so that the answers to expect can be given an operator:
the operators free for outbound (free - reserve - inbound callers waiting), plus each busy
one with its chance of freeing in time (pacing.chance_free), less the inbound callers to
expect meanwhile (they take freed operators first). The number of lines is the largest whose
expected drops (answers beyond those operators) stay below a safety share of the cap of the
answers expected: the cap is aimed at on every decision, so it is spent evenly over the day.
With AMD on, the cap aimed at is less the people AMD hangs up on (AMD_PEOPLE_MISSED): the
dialer cannot see those drops, the authority counts them. Two limits stop a burst: the day's
budget (cap x answered so far - dropped), and the window's (the same over the latest WINDOW
seconds only, plus one), so that answered calls of the morning cannot be spent in the
afternoon's minutes.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ivr.campaigns.model import PREVIEW, PROGRESSIVE, RATIO
from ivr.campaigns.pacing import (
    MEASURED_AFTER,
    SAFETY,
    Day,
    _distribution,
    chance_answered,
    drops_left,
    ratio_lines,
)

SERVICE_SECONDS = 20.0  # the inbound service level: answered within this
SERVICE_TARGET = 0.8  # ... this share of the callers (the industry's 80/20)
WINDOW = 900.0  # seconds of the latest answers and drops the dialer paces on
WINDOW_CHANCE = 0.01  # a window over its allowance by chance alone: once in this many
SHORT = 300.0  # the forecast's quick window
FORECAST_AFTER = 3  # arrivals in the window before the forecast says anything
INBOUND_HANDLE = 180.0  # seconds, talk and wrap-up, until the day has measured its own
MAX_LINES_PER_OPERATOR = 4
AIM = SAFETY  # the share of the cap each decision aims at
# The forecast's expected drops are about a quarter of the drops that come of its decisions,
# measured on the simulated day (aiming at 0.4 % got 1.6-1.8 %): lines are placed when the
# forecast is at its most hopeful and stay placed when it is not. The aim is divided by this.
UNDERCOUNT = 4.0
EASE_DROPS = 10.0  # drops over the day's SAFETY x cap path at which no line is placed ahead
EASE_BUDGET = 3.0  # the day's drops left below which the aim shrinks
EASE_MORE = 1.2  # the most of the aim a day with drops to spare may use
# People that answering-machine detection takes for machines and hangs up on: silent calls the
# authority counts and the dialer never sees. Measured AMD engines miss 1-4 % of people; with
# AMD on, the dialer aims below the cap by this much.
AMD_PEOPLE_MISSED = 0.01  # a ceiling however good the odds look


def erlang_c(agents: int, load: float) -> float:
    """Probability that a caller waits in an M/M/c queue (Erlang C), `load` in Erlangs."""
    if agents <= load:
        return 1.0
    term = 1.0  # load**k / k!, summed iteratively to stay stable for large c
    total = 1.0
    for k in range(1, agents):
        term *= load / k
        total += term
    term *= load / agents
    top = term * agents / (agents - load)
    return top / (total + top)


def erlang_agents(rate: float, handle: float, target: float, within: float) -> int:
    """The fewest agents serving `rate` calls/s of `handle` s that answer `target` of them
    within `within` seconds (Erlang C)."""
    load = rate * handle
    if load <= 0:
        return 0
    agents = max(1, math.ceil(load))
    while True:
        wait = erlang_c(agents, load)
        if 1.0 - wait * math.exp(-(agents - load) * within / handle) >= target:
            return agents
        agents += 1


def freeing(inbound_busy: int, outbound_busy: int, inbound_handle: float, handle: float) -> float:
    """Operators freeing per second: each busy one at 1 / the mean handle time of its kind
    of call (talk and wrap-up; memoryless)."""
    return inbound_busy / max(1.0, inbound_handle) + outbound_busy / max(1.0, handle)


def reserve(
    rate: float,
    nu: float,
    inbound_busy: int,
    inbound_handle: float,
    target: float = SERVICE_TARGET,
    within: float = SERVICE_SECONDS,
) -> int:
    """Operators to keep idle for inbound callers arriving at `rate`/s while busy operators
    free at `nu`/s (`freeing`), `inbound_busy` of them on inbound calls of `inbound_handle`."""
    if rate <= 0:
        return 0
    # Never more than the inbound load needs on its own (Erlang C), less those serving it.
    need = max(1, erlang_agents(rate, inbound_handle, target, within) - inbound_busy)
    if nu <= rate:
        return need  # the freeing operators alone cannot carry the inbound load
    rho = rate / nu
    tail = math.exp(-nu * within)
    if tail <= 1.0 - target:
        return 0
    chain = math.ceil(math.log((1.0 - target) / tail) / math.log(rho) - 1e-9)
    return max(0, min(chain, need))


class Forecast:
    """Inbound arrivals of the latest minutes, for the rate to expect next (calls/s)."""

    def __init__(self) -> None:
        self.arrivals: deque[float] = deque()

    def arrive(self, t: float) -> None:
        self.arrivals.append(t)

    def rate(self, t: float) -> float:
        """Calls/s to expect; none until the window holds a few arrivals (one caller in a
        quarter of an hour is no load to keep operators idle for: the next to free takes
        the next caller anyway)."""
        while self.arrivals and self.arrivals[0] < t - WINDOW:
            self.arrivals.popleft()
        if len(self.arrivals) < FORECAST_AFTER:
            return 0.0
        recent = sum(1 for a in self.arrivals if a >= t - SHORT)
        return max(len(self.arrivals) / WINDOW, recent / SHORT)


@dataclass(frozen=True)
class Recent:
    """The campaign's latest WINDOW seconds: answered calls (by a person) and drops."""

    answered: int = 0
    dropped: int = 0


def budget(day: Day, recent: Recent, cap: float) -> float:
    """Drops the dialer may still risk now: the day's and the window's, the lower."""
    return max(0.0, min(drops_left(day, cap), window_allowance(recent, cap) - recent.dropped))


def window_allowance(recent: Recent, cap: float) -> int:
    """The most drops the latest WINDOW seconds may hold: the count that chance alone reaches
    at the cap's rate (Poisson, cap x answered) no more than once in WINDOW_CHANCE windows,
    and at least one. A burst goes past it; the noise of a handful of drops does not."""
    mean = cap * recent.answered
    term = total = math.exp(-mean)
    k = 0
    while 1.0 - total > WINDOW_CHANCE:
        k += 1
        term *= mean / k
        total += term
    return max(1, k)


@dataclass(frozen=True)
class Moment:
    """One moment of the forecast, `within` seconds from now: each line's chance of having
    been answered by a person by then, each busy operator's of having freed in time for it
    (pacing.chance_operator_free), and the inbound callers to expect by then."""

    within: float
    new: float  # a line placed now
    ringing: tuple[float, ...]  # each line ringing
    soon: tuple[float, ...]  # each busy operator
    arrivals: float = 0.0


MOMENT_SHARES = (0.25, 0.5, 0.75, 1.0)  # of today's answers: the forecast's moments


def checkpoints(day: Day) -> tuple[float, ...]:
    """When (seconds from now) the answers are matched against the operators freed: when a
    quarter, half, three quarters and all of today's answers had come; until the delays are
    measured, at today's mean time to answer only."""
    if len(day.delays) < MEASURED_AFTER:
        return (day.time_to_answer,)
    delays = day.sorted_delays
    at = {delays[max(0, math.ceil(share * len(delays)) - 1)] for share in MOMENT_SHARES}
    return tuple(sorted(at))


def moments(
    day: Day,
    ages: Sequence[float],
    soon: Callable[[float], tuple[float, ...]],
    rate: float,
    wait: float,
) -> tuple[Moment, ...]:
    """The forecast's moments for lines ringing `ages` seconds, busy operators whose chance
    of freeing by a moment `soon(within)` gives, inbound callers arriving at `rate`/s, and an
    answer that may wait `wait` seconds."""
    return tuple(
        Moment(
            within,
            chance_answered(day, 0.0, within),
            tuple(chance_answered(day, age, within) for age in ages),
            soon(within),
            rate * (within + wait),
        )
        for within in checkpoints(day)
    )


def predictive_lines(
    free: int,
    moments: Sequence[Moment],
    waiting: int,
    day: Day,
    recent: Recent,
    cap: float,
    top: float = MAX_LINES_PER_OPERATOR,
) -> int:
    """New calls for a predictive campaign: `free` operators free for outbound (the inbound
    reserve already taken off), `waiting` answered and not connected, `moments` the forecast
    (the lines ringing, the busy operators, the inbound callers to come, who take freed
    operators first). The expected drops are the worst of the moments': at each, the answers
    come by then beyond the operators free by then (plus the wait)."""
    ringing = len(moments[0].ringing) if moments else 0
    busy = len(moments[0].soon) if moments else 0
    if free - waiting <= 0 and not busy:
        return 0
    p = day.answer_rate
    ahead = recent.dropped <= window_allowance(recent, cap)
    share = AIM / UNDERCOUNT * _ease(day, cap)
    free = max(0, free)
    ceiling = math.floor((free + busy) * top + 1e-9)
    allowed = budget(day, recent, cap)
    # Lines in flight: one per free operator not already owed to an answered call.
    placed = max(0, min(free - waiting, ceiling) - ringing)
    states = []
    for m in moments:
        # A window over its allowance (a burst): no line ahead of a busy operator until it is back.
        freed = _distribution(tuple(m.soon) if ahead else ())
        if m.arrivals > 0 and len(freed) > 1:
            freed = _less_arrivals(freed, m.arrivals)
        answers = list(_distribution(tuple(m.ringing)))
        for _ in range(placed):
            answers = _one_more(answers, m.new)
        states.append((m, _shortfall(freed, waiting + ringing + ceiling), answers))
    while ringing + placed < ceiling:
        worst = 0.0
        for n, (m, short, answers) in enumerate(states):
            answers = _one_more(answers, m.new)
            states[n] = (m, short, answers)
            # The answered calls waiting take the first operators: they count as answers too.
            worst = max(worst, sum(px * short[waiting + x - free] for x, px in enumerate(answers)
                                   if waiting + x > free))  # fmt: skip
        if worst > share * cap * ((ringing + placed + 1) * p + waiting) or worst > allowed:
            break
        placed += 1
    return placed


def _ease(day: Day, cap: float) -> float:
    """The share of the aim a decision may use, from the day so far: all of it (and a little
    more while the day has drops to spare) on the path of SAFETY x cap; less as the day's
    drops run over that path, none EASE_DROPS over it; and less again as the day's own budget
    comes within EASE_BUDGET drops of its end. Smooth, so that the drops are spent evenly:
    an on/off gate kept the dialer one line per free operator for long stretches, and the
    drops of the stretches between were no fewer."""
    over = day.dropped - SAFETY * cap * day.answered
    path = 1.0 - over / EASE_DROPS
    left = drops_left(day, cap) / EASE_BUDGET
    return max(0.0, min(EASE_MORE, path, left))


def _one_more(answers: list[float], q: float) -> list[float]:
    """The count of answers with one more line, answered with chance q."""
    out = [pk * (1 - q) for pk in answers] + [0.0]
    for k, pk in enumerate(answers):
        out[k + 1] += pk * q
    return out


def _shortfall(freed: Sequence[float], most: int) -> list[float]:
    """E[max(0, k - freed)] for k = 0..most."""
    out = [0.0]
    below = 0.0  # P(freed <= k - 1)
    for k in range(most):
        below += freed[k] if k < len(freed) else 0.0
        out.append(out[-1] + below)
    return out


def _less_arrivals(freed: Sequence[float], mean: float) -> tuple[float, ...]:
    """The operators freed for outbound: freed ones less the inbound callers that take them
    (Poisson arrivals), never below zero."""
    arrive = [math.exp(-mean)]
    while (len(arrive) < len(freed) and arrive[-1] > 1e-9) or len(arrive) <= mean:
        arrive.append(arrive[-1] * mean / len(arrive))
    arrive[-1] += max(0.0, 1.0 - sum(arrive))
    out = [0.0] * len(freed)
    for y, py in enumerate(freed):
        for a, pa in enumerate(arrive):
            out[max(0, y - a)] += py * pa
    return tuple(out)


def plan(
    mode: str,
    free: int,
    soon: Sequence[float],
    ringing: int,
    waiting: int,
    ratio: float,
    day: Day,
    recent: Recent,
    cap: float,
    top: float = MAX_LINES_PER_OPERATOR,
    amd: bool = False,
    moments: Sequence[Moment] = (),
) -> int:
    """The dialer's decision for one campaign: preview and progressive, the operators to use
    (one line each); ratio and predictive, the new lines to place. `free` is already less the
    operators kept for inbound; `moments` the predictive forecast (`moments`)."""
    if mode in (PREVIEW, PROGRESSIVE):
        return max(0, free)
    # With AMD on, the people it hangs up on count as silent calls the dialer never sees:
    # every mode that dials ahead aims below the cap by them.
    aimed = max(0.0, cap - AMD_PEOPLE_MISSED) if amd else cap
    if mode == RATIO:
        allowed = budget(day, recent, aimed)  # the window's too: no burst
        return ratio_lines(max(0, free), tuple(soon), ringing, waiting, ratio, day, aimed, allowed)
    return predictive_lines(free, moments, waiting, day, recent, aimed, top)
