"""How many calls to place now: pure arithmetic over who is free and what today looks like.

preview and progressive: one call per free operator, that operator reserved for it (so an
answered contact always has its operator: never a dropped call).

ratio: the lines in flight are chosen so that the drops to expect stay under the limit. Each
line ringing is answered with probability p (today's answer rate); the operators that will
take those answers are the free ones plus each busy one with its chance of being free by then
(certain for a wrap-up that ends before today's average time to answer, else the chance that a
call of today's average length ends in that time). The number of
lines is the largest whose expected drops stay below a safety share (80 %) of the cap (3 % of
the expected answers), never above N lines per operator (N adapts to the day's drop rate),
and never spending more drops than the day still allows: dropped calls stay at most `cap`
of the answered ones per campaign per day.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass, replace
from functools import cache, cached_property, lru_cache

MIN_RATIO = 1.0
PRIOR_ANSWER_RATE = 0.5  # until the day has enough calls to measure it
PRIOR_ANSWER_SECONDS = 5.0
PRIOR_CALL_SECONDS = 90.0
MEASURED_AFTER = 20
SAFETY = 0.8  # aim below the cap: the estimates are estimates
# Seconds between an operator freeing and talking to a waiting contact: the unpause, the
# campaign queue's next try (retry = 1 s), its ringing the phone and the phone answering. Out
# of the contact's wait (a line ahead of a wrap-up ending 1 s before the wait did, dropped).
RING_OPERATOR = 1.5


@dataclass(frozen=True)
class Day:
    placed: int = 0
    answered: int = 0  # by a person
    dropped: int = 0
    answer_seconds: float = 0.0  # summed over the answered calls: placed -> answered
    calls: int = 0  # connected calls that ended
    call_seconds: float = 0.0  # summed: connected -> ended, wrap-up included when known
    lengths: tuple[float, ...] = ()  # the latest calls' lengths (connected -> ended), seconds
    wraps: tuple[float, ...] = ()  # the latest wrap-ups (ended -> outcome saved), seconds
    delays: tuple[float, ...] = ()  # the latest answers' delays (placed -> answered), seconds
    ringing: int = 0  # of the placed, the lines not answered and not ended yet

    @property
    def answer_rate(self) -> float:
        """Answered over the lines placed that have come to an end or an answer: a line still
        ringing may yet be answered (counted among the placed, the first minutes' burst of
        lines read as an answer rate near nothing, and the dialer placed twice as many)."""
        settled = self.placed - self.ringing
        if settled < MEASURED_AFTER:
            return PRIOR_ANSWER_RATE
        return min(0.99, max(0.05, self.answered / settled))

    @property
    def drop_rate(self) -> float:
        return self.dropped / self.answered if self.answered else 0.0

    @property
    def time_to_answer(self) -> float:
        if self.answered < MEASURED_AFTER:
            return PRIOR_ANSWER_SECONDS
        return max(0.5, self.answer_seconds / self.answered)

    @cached_property
    def sorted_lengths(self) -> tuple[float, ...]:
        return tuple(sorted(self.lengths))

    @cached_property
    def sorted_wraps(self) -> tuple[float, ...]:
        return tuple(sorted(self.wraps))

    @cached_property
    def sorted_delays(self) -> tuple[float, ...]:
        return tuple(sorted(self.delays))

    def wrap_length(self, pause: float) -> float:
        """The usual wrap-up after a call: today's mean, or a guess until measured."""
        if len(self.wraps) < MEASURED_AFTER:
            return min(pause, 10.0)  # most write the outcome while the call ends
        return sum(self.wraps) / len(self.wraps)

    @property
    def call_length(self) -> float:
        if self.calls < MEASURED_AFTER:
            return PRIOR_CALL_SECONDS
        return max(1.0, self.call_seconds / self.calls)


def of_inbound(day: Day, talks: tuple[float, ...]) -> Day:
    """Today as seen for an operator talking to an inbound caller: the inbound talks' lengths
    instead of the campaign's."""
    return replace(day, calls=len(talks), call_seconds=sum(talks), lengths=talks)


def drops_left(day: Day, cap: float) -> float:
    """How many more drops the day allows now (may be negative: over the limit)."""
    return cap * day.answered - day.dropped


@lru_cache(maxsize=16)  # one decision asks it for the same operators at every line count
def _distribution(probabilities: tuple[float, ...]) -> tuple[float, ...]:
    """P(k of these independent events happen), k = 0..n (Poisson binomial)."""
    out = [1.0]
    for q in probabilities:
        nxt = [0.0] * (len(out) + 1)
        for k, pk in enumerate(out):
            nxt[k] += pk * (1 - q)
            nxt[k + 1] += pk * q
        out = nxt
    return tuple(out)


@cache
def _binomial(n: int, p: float) -> tuple[float, ...]:
    return tuple(math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(n + 1))


def expected_drops(lines: int, p: float, free: int, soon: tuple[float, ...]) -> float:
    """E[max(0, answers - operators)]: answers ~ B(lines, p); operators: the free ones and
    each busy one with its own chance of being free in time (`soon`)."""
    answers = _binomial(lines, round(p, 3))
    freed = _distribution(soon)
    total = 0.0
    for x, px in enumerate(answers):
        if x <= free or px == 0.0:
            continue
        total += px * sum(py * max(0, x - free - y) for y, py in enumerate(freed))
    return total


def _horizon(day: Day, wait: float, within: float | None) -> float:
    """Seconds an operator has to free for an answer `within` seconds from now (by default
    today's mean time to answer) that may wait `wait` seconds, less the operator's phone."""
    return (day.time_to_answer if within is None else within) + wait - RING_OPERATOR


def chance_answered(day: Day, age: float, within: float) -> float:
    """The chance that a line ringing for `age` seconds is answered by a person within
    `within` seconds more: today's answer rate, at the times today's answers came (the share
    of today's answer delays longer than `age` that end by `age + within`). The rate is not
    lowered for a line that has rung long: of the lines ringing that long, fewer end with a
    person, and counting them all keeps the forecast on the safe side. Until the delays are
    measured, every answer comes at today's mean time to answer."""
    p = day.answer_rate
    if len(day.delays) < MEASURED_AFTER:
        return p if age + within >= day.time_to_answer else 0.0
    delays = day.sorted_delays
    shorter = bisect_right(delays, age)
    longer = len(delays) - shorter
    if not longer:
        return 0.0  # rung longer than any answer today came: a person seldom answers now
    return p * (bisect_right(delays, age + within) - shorter) / longer


def chance_free(
    day: Day,
    remaining: float | None,
    wait: float,
    elapsed: float | None = None,
    after: float = 0.0,
    within: float | None = None,
) -> float:
    """The chance a busy operator is free when a line placed now is answered (`within`
    seconds from now; by default at today's mean time to answer) and has waited `wait`
    seconds: certain for a wrap-up ending by then (`remaining` known); for a call `elapsed`
    seconds long so far, the share of today's calls that long which ended within the horizon
    (then `after` seconds of wrap-up); with too few calls measured, today's average call
    length taken as memoryless."""
    horizon = _horizon(day, wait, within)
    if remaining is not None:
        return 1.0 if remaining <= horizon else 0.0
    if elapsed is not None and len(day.lengths) >= MEASURED_AFTER:
        lengths = day.sorted_lengths
        shorter = bisect_right(lengths, elapsed)
        longer = len(lengths) - shorter
        if longer >= 5:  # enough calls this long to judge by
            ended = max(0, bisect_right(lengths, elapsed + horizon - after) - shorter)
            return ended / longer
        return 0.0  # longer than (nearly) any call today: no telling when it ends
    return 1.0 - math.exp(-horizon / day.call_length)


def chance_wrap_free(
    day: Day, elapsed: float, pause: float, wait: float, within: float | None = None
) -> float:
    """The chance an operator `elapsed` seconds into a wrap-up is free in time: the share of
    today's wrap-ups that long which ended within the horizon; until they are measured,
    certain only if the wrap-up pause itself ends by then."""
    if len(day.wraps) < MEASURED_AFTER:
        return chance_free(day, max(0.0, pause - elapsed), wait, within=within)
    horizon = _horizon(day, wait, within)
    wraps = day.sorted_wraps
    shorter = bisect_right(wraps, elapsed)
    longer = len(wraps) - shorter
    if not longer:
        return 1.0 if elapsed + horizon >= pause else 0.0
    return (bisect_right(wraps, elapsed + horizon) - shorter) / longer


def chance_operator_free(
    day: Day,
    inbound: Day,
    outbound: bool,
    wrapping: bool,
    elapsed: float,
    pause: float,
    wait: float,
    within: float | None = None,
) -> float:
    """A busy operator's chance of being free in time for an answer `within` seconds from
    now (by default at today's mean time to answer), `elapsed` seconds into a call (or its
    wrap-up when `wrapping`) of the campaign (`outbound`) or of an inbound queue. An inbound
    call is judged by the inbound talks (`inbound`, of_inbound) and writing the message takes
    about half the wrap-up pause (as tracking.Waiting.inbound_handle counts it), longer than a
    campaign's outcome form."""
    if outbound:
        if wrapping:
            return chance_wrap_free(day, elapsed, pause, wait, within)
        return chance_free(day, None, wait, elapsed, day.wrap_length(pause), within)
    if wrapping:
        return chance_free(day, max(0.0, pause / 2 - elapsed), wait, within=within)
    return chance_free(inbound, None, wait, elapsed, pause / 2, within)


def ratio_lines(
    free: int,
    soon: tuple[float, ...],
    ringing: int,
    waiting: int,
    ratio: float,
    day: Day,
    cap: float,
    allowed: float | None = None,
) -> int:
    """New calls for a ratio campaign: `free` operators free, `soon` the chance of each busy
    one to be free in time, `ringing` of its lines not answered yet, `waiting` answered and
    not connected; `allowed`: the drops it may risk now (else what the day has left)."""
    capacity = free - waiting
    if capacity <= 0 and not soon:
        return 0
    capacity = max(0, capacity)
    if day.answered >= MEASURED_AFTER and day.drop_rate > SAFETY * cap:
        soon = ()  # the estimates were wrong today: no line ahead until the rate is back down
    p = day.answer_rate
    ceiling = math.floor((free + len(soon)) * max(ratio, MIN_RATIO) + 1e-9)
    budget = max(0.0, drops_left(day, cap) if allowed is None else allowed)
    best = min(capacity, ceiling)  # one line per free operator: no drop to expect
    for lines in range(best + 1, ceiling + 1):
        drops = expected_drops(lines, p, capacity, soon)
        if drops > SAFETY * cap * lines * p or drops > budget:
            break
        best = lines
    return max(0, best - ringing)


def adapt(ratio: float, day: Day, cap: float, top: float) -> float:
    """N after the day's latest answered call: down fast when drops near the cap, up slowly
    while they stay well below it."""
    if day.answered and day.drop_rate > cap * SAFETY:
        return max(MIN_RATIO, round(ratio - 0.25, 2))
    if day.answered >= MEASURED_AFTER and day.drop_rate < cap * 0.5:
        return min(top, round(ratio + 0.1, 2))
    return ratio
