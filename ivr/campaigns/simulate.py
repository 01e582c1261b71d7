"""A center's day, simulated: inbound callers and one outbound campaign sharing N operators,
paced by the dialer's own decisions (predict.plan, predict.reserve, pacing.chance_free,
pacing.adapt: the functions the dialer calls), on a simulated clock.

A discrete-event simulation (heapq): inbound callers arrive as a Poisson process whose rate
follows an hourly profile, wait with a patience of their own, and are answered first by
whichever operator frees; outbound lines ring, are answered by a person, a machine or
nobody, pass answering-machine detection (AMD, with its errors) and wait for an operator at
most the drop wait, after which they hear the drop message. What the dialer learns (today's
answered, dropped, call lengths, the inbound arrivals) it learns from the simulated calls, as
it would from the rows and the AMI events.

The distributions, and why (Brown et al., "Statistical analysis of a telephone call center",
JASA 2005: service times are close to lognormal, patience roughly exponential):
- talk: lognormal; inbound message-taking mean 150 s (sd 75 s), outbound connect mean 90 s
  (sd 60 s), a machine that AMD missed 8 s (the operator hears it and hangs up);
- wrap-up: lognormal; inbound mean 30 s (writing the message), outbound 15 s (the outcome
  form), never past the engine's wrap-up pause;
- ring to answer (a person): lognormal mean 9 s, sd 5 s; not answered within the campaign's
  ring time: no answer; busy or unreachable numbers fail after ~3 s;
- a dial is answered by a person `answer_rate` of the time (20-40 %), by a machine 15 %,
  busy/unreachable 10 %, else rings out;
- AMD takes 2.5 s on a person and 3.5 s on a machine, hangs up on 1 % of the people (a
  silent call to them: the authority counts it as a drop) and misses 15 % of the machines;
- inbound patience: exponential, mean 90 s.

Drops as the authority counts them: an answered person not put to an operator within 3 s
(after AMD's verdict), AMD's hang-ups on people included.

Occupancy: time talking or writing up (wrap-up) / logged-in time, the industry's definition
(handle time over staffed time); the talking share alone is printed beside it.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import deque
from dataclasses import dataclass, field

from ivr.campaigns import pacing, predict
from ivr.campaigns.model import AHEAD, PREVIEW, RATIO
from ivr.campaigns.tracking import Waiting

INBOUND_ONLY = "inbound"
MODES = (INBOUND_ONLY, PREVIEW, "progressive", RATIO, "predictive")
# A message-taking center's day, 9:00-19:00: each hour's inbound load as a share of the
# busiest hour's (mid-morning and late-afternoon peaks, a lunch dip).
PROFILE = (0.7, 1.0, 0.95, 0.8, 0.5, 0.55, 0.8, 0.9, 0.75, 0.5)
AUTHORITY_WAIT = 3.0  # seconds: an answered person not with an operator by then is a drop


@dataclass(frozen=True)
class Center:
    operators: int = 20
    peak_load: float = 0.5  # the busiest hour's inbound load, as a share of the operators
    answer_rate: float = 0.3  # dials answered by a person
    machine_rate: float = 0.15
    fail_rate: float = 0.10  # busy, unreachable
    ring: float = 25.0  # the campaign's ring time
    amd: bool = True
    amd_person_miss: float = 0.01  # people AMD takes for machines (hung up on)
    amd_machine_miss: float = 0.15  # machines AMD lets through to an operator
    inbound_talk: tuple[float, float] = (150.0, 75.0)  # lognormal mean, sd
    outbound_talk: tuple[float, float] = (90.0, 60.0)
    inbound_wrap: tuple[float, float] = (30.0, 15.0)
    outbound_wrap: tuple[float, float] = (15.0, 8.0)
    wrap_limit: float = 60.0  # the engine's wrap-up pause (wrapup_seconds)
    answer_delay: tuple[float, float] = (9.0, 5.0)
    patience: float = 90.0
    read: float = 8.0  # preview: seconds on the card
    drop_wait: float = 2.0  # the engine's campaign_drop_wait
    cap: float = 0.03
    ratio: float = 1.5
    max_ratio: float = 3.0
    profile: tuple[float, ...] = PROFILE
    blend: bool = True  # keep operators free for the inbound forecast

    @property
    def seconds(self) -> float:
        return 3600.0 * len(self.profile)


@dataclass
class Result:
    mode: str
    operators: int
    seconds: float
    busy: float = 0.0  # talking + wrap-up, summed over operators
    talk: float = 0.0
    offered: int = 0
    answered: int = 0
    within: int = 0  # answered within the service level's seconds
    abandoned: int = 0
    wait: float = 0.0  # summed over answered inbound callers
    placed: int = 0
    people: int = 0  # outbound calls answered by a person
    connects: int = 0  # people put to an operator
    dropped: int = 0  # as the authority counts them
    seen_dropped: int = 0  # as the dialer sees them (AMD's hang-ups on people are not seen)

    @property
    def occupancy(self) -> float:
        return self.busy / (self.operators * self.seconds)

    @property
    def talking(self) -> float:
        return self.talk / (self.operators * self.seconds)

    @property
    def service_level(self) -> float:
        return self.within / self.offered if self.offered else 1.0

    @property
    def asa(self) -> float:
        return self.wait / self.answered if self.answered else 0.0

    @property
    def abandon_rate(self) -> float:
        return self.abandoned / self.offered if self.offered else 0.0

    @property
    def drop_rate(self) -> float:
        return self.dropped / self.people if self.people else 0.0

    @property
    def connects_per_hour(self) -> float:
        return self.connects / (self.operators * self.seconds / 3600)


def lognormal(rng: random.Random, mean: float, sd: float) -> float:
    sigma2 = math.log(1 + (sd / mean) ** 2)
    return rng.lognormvariate(math.log(mean) - sigma2 / 2, math.sqrt(sigma2))


@dataclass
class Operator:
    state: str = "idle"  # idle, held (a line rings for them), in, out, wrap
    since: float = 0.0
    until: float = 0.0  # end of the talk or wrap-up in progress
    kind: str = ""  # the call's kind, in or out


@dataclass
class Line:
    outcome: str  # person, machine, none, fail
    operator: int | None = None  # preview/progressive: held for it
    placed: float = 0.0
    verdict: bool | None = None  # answered: AMD's (or no AMD's) word that a person is there


@dataclass
class Day:
    """Today's figures as the dialer sees them (activity.today)."""

    placed: int = 0
    answered: int = 0
    dropped: int = 0
    answer_seconds: float = 0.0
    calls: int = 0
    call_seconds: float = 0.0
    lengths: deque[float] = field(default_factory=lambda: deque(maxlen=200))
    wraps: deque[float] = field(default_factory=lambda: deque(maxlen=200))
    delays: deque[float] = field(default_factory=lambda: deque(maxlen=200))
    answers: deque[float] = field(default_factory=deque)  # times of people answering
    drops: deque[float] = field(default_factory=deque)

    def pacing(self, wrap: float, ringing: int) -> pacing.Day:
        return pacing.Day(
            self.placed, self.answered, self.dropped, self.answer_seconds, self.calls,
            self.call_seconds + self.calls * wrap, tuple(self.lengths), tuple(self.wraps),
            tuple(self.delays), ringing,
        )  # fmt: skip

    def recent(self, t: float) -> predict.Recent:
        for times in (self.answers, self.drops):
            while times and times[0] < t - predict.WINDOW:
                times.popleft()
        return predict.Recent(len(self.answers), len(self.drops))


class Simulation:
    def __init__(self, center: Center, mode: str, seed: int) -> None:
        self.c = center
        self.mode = mode
        self.rng = random.Random(seed)
        self.ops = [Operator() for _ in range(center.operators)]
        self.events: list[tuple[float, int, str, object]] = []
        self.seq = 0
        self.queue: deque[tuple[float, int]] = deque()  # inbound: (arrived, caller)
        self.gone: set[int] = set()  # inbound callers who hung up
        self.waiting: deque[tuple[float, int]] = deque()  # outbound people: (answered, line)
        self.lines: dict[int, Line] = {}
        self.ringing = 0
        self.day = Day()
        self.inbound = Waiting()  # the dialer's account of the inbound queues
        self.ratio = center.ratio
        self.out = Result(mode, center.operators, center.seconds)
        self.t = 0.0
        self.decided = -1.0

    # -- the machinery --------------------------------------------------------------------

    def at(self, when: float, kind: str, data: object = None) -> None:
        self.seq += 1
        heapq.heappush(self.events, (when, self.seq, kind, data))

    def run(self) -> Result:
        self._next_arrival(0.0)
        if self.mode != INBOUND_ONLY:
            self.at(0.0, "tick")
        while self.events:
            t, _, kind, data = heapq.heappop(self.events)
            if t > self.c.seconds:
                break
            self.t = t
            getattr(self, f"_on_{kind}")(data)
            if self.mode != INBOUND_ONLY and (kind in ("free", "line", "read") or t > self.decided):
                self.decide()
        for op in self.ops:  # the calls still going at the end of the day
            if op.state in ("in", "out", "wrap"):
                self._account(op, self.c.seconds)
        return self.out

    def _account(self, op: Operator, until: float) -> None:
        spent = max(0.0, min(until, self.c.seconds) - op.since)
        self.out.busy += spent
        if op.state in ("in", "out"):
            self.out.talk += spent

    def _rate(self, t: float) -> float:
        hour = min(int(t // 3600), len(self.c.profile) - 1)
        handle = self.c.inbound_talk[0] + self.c.inbound_wrap[0]
        return self.c.profile[hour] * self.c.peak_load * self.c.operators / handle

    def _next_arrival(self, t: float) -> None:
        while t < self.c.seconds:
            rate = self._rate(t)
            step = self.rng.expovariate(rate) if rate > 0 else math.inf
            boundary = (t // 3600 + 1) * 3600
            if t + step < boundary:
                self.at(t + step, "arrive", self.seq)
                return
            t = boundary  # memoryless: draw again at the next hour's rate

    # -- inbound --------------------------------------------------------------------------

    def _on_arrive(self, caller: object) -> None:
        self.out.offered += 1
        self.inbound.apply({"Event": "QueueCallerJoin", "Queue": "in", "Uniqueid": ""}, self.t)
        self._next_arrival(self.t)
        assert isinstance(caller, int)
        op = self._idle()
        if op is not None:
            self._inbound(op, self.t)
            return
        self.queue.append((self.t, caller))
        self.at(self.t + self.rng.expovariate(1 / self.c.patience), "abandon", caller)

    def _on_abandon(self, caller: object) -> None:
        for item in self.queue:
            if item[1] == caller:
                self.queue.remove(item)
                self.out.abandoned += 1
                return

    def _inbound(self, n: int, arrived: float) -> None:
        waited = self.t - arrived
        self.out.answered += 1
        self.out.wait += waited
        self.out.within += waited <= predict.SERVICE_SECONDS
        talk = lognormal(self.rng, *self.c.inbound_talk)
        self._talk(n, "in", talk)

    # -- operators ------------------------------------------------------------------------

    def _idle(self) -> int | None:
        for n, op in enumerate(self.ops):
            if op.state == "idle":
                return n
        return None

    def _talk(self, n: int, kind: str, talk: float) -> None:
        op = self.ops[n]
        op.state, op.kind, op.since, op.until = kind, kind, self.t, self.t + talk
        self.at(op.until, "hangup", n)

    def _on_hangup(self, n: object) -> None:
        assert isinstance(n, int)
        op = self.ops[n]
        self._account(op, self.t)
        length = self.t - op.since
        mean, sd = self.c.inbound_wrap if op.kind == "in" else self.c.outbound_wrap
        wrap = min(self.c.wrap_limit, lognormal(self.rng, mean, sd))
        if op.kind == "out":
            self.day.calls += 1
            self.day.call_seconds += length
            self.day.lengths.append(length)
            self.day.wraps.append(wrap)  # the outcome saved: its row says when
        else:  # app_queue's word on it, as the dialer hears it
            self.inbound.apply(
                {"Event": "AgentComplete", "Queue": "in", "TalkTime": f"{length:.0f}"}
            )
        op.state, op.since, op.until = "wrap", self.t, self.t + wrap
        self.at(op.until, "free", n)

    def _on_free(self, n: object) -> None:
        assert isinstance(n, int)
        op = self.ops[n]
        if op.state == "wrap":
            self._account(op, self.t)
        op.state, op.since = "idle", self.t
        self._offer(n)

    def _offer(self, n: int) -> None:
        """A free operator takes the inbound caller waiting longest, else an outbound one."""
        if self.queue:
            arrived, _ = self.queue.popleft()
            self._inbound(n, arrived)
        elif self.waiting:
            _, line = self.waiting.popleft()
            self._connect(n, line)

    # -- outbound -------------------------------------------------------------------------

    def _dial(self, operator: int | None) -> None:
        c, rng = self.c, self.rng
        r = rng.random()
        if r < c.answer_rate:
            outcome, after = "person", lognormal(rng, *c.answer_delay)
            if after > c.ring:
                outcome, after = "none", c.ring
        elif r < c.answer_rate + c.machine_rate:
            outcome, after = "machine", lognormal(rng, 6.0, 3.0)
        elif r < c.answer_rate + c.machine_rate + c.fail_rate:
            outcome, after = "fail", rng.uniform(1.0, 5.0)
        else:
            outcome, after = "none", c.ring
        self.seq += 1
        self.lines[self.seq] = Line(outcome, operator, self.t)
        self.ringing += 1
        self.day.placed += 1
        self.out.placed += 1
        self.at(self.t + after, "line", self.seq)

    def _on_line(self, key: object) -> None:
        assert isinstance(key, int)
        line = self.lines[key]
        c = self.c
        if line.outcome in ("person", "machine") and line.verdict is None:
            # Answered: AMD listens first (when on), then the call goes to an operator.
            person = line.outcome == "person"
            if person:
                self.out.people += 1
            if c.amd:
                miss = c.amd_person_miss if person else c.amd_machine_miss
                missed = self.rng.random() < miss
                verdict_person = person != missed
                delay = 2.5 if person else 3.5
            else:
                verdict_person, delay = True, 0.0
            line.verdict = verdict_person
            self.at(self.t + delay, "line", key)
            return
        self.ringing -= 1
        if line.outcome in ("none", "fail") or not line.verdict:
            # Not answered, or hung up on as a machine (a person so: a silent call).
            if line.outcome == "person":
                self.out.dropped += 1
            self._release(line)
            del self.lines[key]
            return
        if line.verdict:  # what the dialer's rows say: a person answered
            self.day.answered += 1
            self.day.answer_seconds += self.t - line.placed
            self.day.delays.append(self.t - line.placed)
            self.day.answers.append(self.t)
        if line.operator is not None:
            self._connect(line.operator, key)
            return
        n = self._idle()
        if n is not None:
            self._connect(n, key)
            return
        self.waiting.append((self.t, key))
        self.at(self.t + c.drop_wait, "drop", key)

    def _release(self, line: Line) -> None:
        if line.operator is not None:
            op = self.ops[line.operator]
            op.state, op.since = "idle", self.t
            self._offer(line.operator)

    def _connect(self, n: int, key: int) -> None:
        line = self.lines.pop(key)
        if line.outcome == "person":
            self.out.connects += 1
            talk = lognormal(self.rng, *self.c.outbound_talk)
        else:
            talk = lognormal(self.rng, 8.0, 3.0)  # a machine AMD let through
        self._talk(n, "out", talk)

    def _on_drop(self, key: object) -> None:
        for item in self.waiting:
            if item[1] == key:
                self.waiting.remove(item)
                line = self.lines.pop(item[1])
                if line.outcome == "person":
                    self.out.dropped += 1
                self.out.seen_dropped += 1
                self.day.dropped += 1
                self.day.drops.append(self.t)
                return

    def _on_tick(self, _: object) -> None:
        self.at(self.t + 1.0, "tick")  # the dialer's loop looks again at least once a second

    def _on_read(self, n: object) -> None:
        assert isinstance(n, int)
        self._dial(n)

    # -- the dialer -----------------------------------------------------------------------

    def decide(self) -> None:
        """The dialer's step: the same decisions CampaignDialer.step takes."""
        self.decided = self.t + 0.2  # at least once a second, and on every freed operator
        c = self.c
        idle = [n for n, op in enumerate(self.ops) if op.state == "idle"]
        if self.queue:  # an inbound caller waiting: no operator is free for outbound
            return
        day = self.day.pacing(c.wrap_limit / 2, self.ringing)  # as the dialer: half the pause
        keep = self.keep(day) if c.blend else 0
        free = max(0, len(idle) - keep)
        soon: tuple[float, ...] = ()
        moments: tuple[predict.Moment, ...] = ()
        if self.mode in AHEAD:
            if not free and not any(op.state in ("out", "in", "wrap") for op in self.ops):
                return
            if self.mode == RATIO:
                soon = self.soon(day)
            else:
                waiting = {key for _, key in self.waiting}
                ages = [self.t - ln.placed for key, ln in self.lines.items() if key not in waiting]
                rate = self.inbound.forecast.rate(self.t)
                moments = predict.moments(
                    day, ages, lambda within: self.soon(day, within), rate, c.drop_wait
                )
        recent = self.day.recent(self.t)
        if self.mode == RATIO and self.day.answered != getattr(self, "_seen", -1):
            self._seen = self.day.answered
            self.ratio = pacing.adapt(self.ratio, day, c.cap, c.max_ratio)
        lines = predict.plan(
            self.mode, free, soon, self.ringing, len(self.waiting), self.ratio, day, recent,
            c.cap, c.max_ratio, c.amd, moments,
        )  # fmt: skip
        if self.mode in AHEAD:
            for _ in range(lines):
                self._dial(None)
            return
        for n in idle[:lines]:
            self.ops[n].state = "held"
            if self.mode == PREVIEW:
                self.at(self.t + c.read, "read", n)
            else:
                self._dial(n)

    def keep(self, day: pacing.Day) -> int:
        """Operators kept idle for the inbound forecast (CampaignDialer.keep_for_inbound)."""
        inbound_busy = sum(1 for op in self.ops if op.kind == "in" and op.state in ("in", "wrap"))
        outbound_busy = sum(  # a held operator's line rings: as good as busy on outbound
            1 for op in self.ops if op.state == "held" or (op.kind == "out" and op.state != "idle")
        )
        handle_in = self.inbound.inbound_handle(self.c.wrap_limit)
        nu = predict.freeing(inbound_busy, outbound_busy, handle_in, day.call_length)
        return predict.reserve(self.inbound.forecast.rate(self.t), nu, inbound_busy, handle_in)

    def soon(self, day: pacing.Day, within: float | None = None) -> tuple[float, ...]:
        """Each busy operator's chance of freeing in time for an answer `within` seconds from
        now (CampaignDialer._soon)."""
        out = []
        wait = self.c.drop_wait
        inbound = pacing.of_inbound(day, tuple(self.inbound.talks))
        for op in self.ops:
            if op.state in ("wrap", "in", "out"):
                out.append(pacing.chance_operator_free(
                    day, inbound, op.kind == "out", op.state == "wrap", self.t - op.since,
                    self.c.wrap_limit, wait, within,
                ))  # fmt: skip
        return tuple(out)


def simulate(center: Center, mode: str, seed: int) -> Result:
    return Simulation(center, mode, seed).run()
