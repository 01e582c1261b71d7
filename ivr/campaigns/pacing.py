"""How many calls to place now: pure arithmetic over who is free and what today looks like.

preview and progressive: one call per free operator, that operator reserved for it (so an
answered contact always has its operator: never a dropped call). ratio: up to N lines per free
operator, where N adapts to the day's drop rate, and the lines beyond one per operator are
limited by the drops the day still allows: dropped calls stay at most `cap` (3 %) of the
answered ones, counting every extra line as a possible drop in proportion to the answer rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MIN_RATIO = 1.0
PRIOR_ANSWER_RATE = 0.5  # until the day has enough calls to measure it
MEASURED_AFTER = 20


@dataclass(frozen=True)
class Day:
    placed: int = 0
    answered: int = 0  # by a person
    dropped: int = 0

    @property
    def answer_rate(self) -> float:
        if self.placed < MEASURED_AFTER:
            return PRIOR_ANSWER_RATE
        return max(0.05, self.answered / self.placed)

    @property
    def drop_rate(self) -> float:
        return self.dropped / self.answered if self.answered else 0.0


def drops_left(day: Day, cap: float) -> float:
    """How many more drops the day allows now (may be negative: over the limit)."""
    return cap * day.answered - day.dropped


def ratio_lines(free: int, in_flight: int, ratio: float, day: Day, cap: float) -> int:
    """New calls to place for a ratio campaign with `free` operators free and `in_flight`
    of its calls ringing or answered and waiting for an operator."""
    if free <= 0:
        return 0
    target = math.floor(free * max(ratio, MIN_RATIO) + 1e-9)
    extra = max(0, math.floor(drops_left(day, cap) / day.answer_rate))
    target = min(target, free + extra)
    return max(0, target - in_flight)


def adapt(ratio: float, day: Day, cap: float, top: float) -> float:
    """N after the day's latest answered call: down fast when drops near the cap, up slowly
    while they stay well below it."""
    if day.answered and day.drop_rate > cap * 0.8:
        return max(MIN_RATIO, round(ratio - 0.25, 2))
    if day.answered >= MEASURED_AFTER and day.drop_rate < cap * 0.5:
        return min(top, round(ratio + 0.1, 2))
    return ratio
