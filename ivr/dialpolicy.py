"""Which numbers the engine may dial, and how they are written: one policy for every call it
places (escalation contacts, callbacks, forward steps, outbound campaigns).

Pure: no I/O. A number is first normalised to E.164 (`+` kept; an Italian national number
gets +39), then classified by the Italian numbering plan (AGCOM: the first digits tell the
kind of service), then judged: the longest matching allow/deny prefix wins; otherwise the
number's class decides. By default only Italian landlines and mobiles may be dialled:
international, premium-rate, shared-cost, short codes and emergency numbers are refused, so a
hostile rules edit or a caller's "callback number" cannot run up the center's bill.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

COUNTRY = "39"
# What people write inside numbers: "+39 06-1234.567", "(06) 1234 567", "333/1234567".
_PUNCTUATION = re.compile(r"[ .\-/()]")
_DIGITS = re.compile(r"\+?[0-9]+")
E164_MAX_DIGITS = 15

LANDLINE = "landline"
MOBILE = "mobile"
TOLL_FREE = "toll-free"
SHARED_COST = "shared-cost"
PREMIUM = "premium"
SPECIAL = "special"  # short codes, emergency, directory, network services, internet access
NOMADIC = "nomadic"  # 55x: VoIP numbers with no place
INTERNATIONAL = "international"
UNKNOWN = "unknown"
CLASSES = (
    LANDLINE,
    MOBILE,
    TOLL_FREE,
    SHARED_COST,
    PREMIUM,
    SPECIAL,
    NOMADIC,
    INTERNATIONAL,
    UNKNOWN,
)
DEFAULT_ALLOWED = frozenset({LANDLINE, MOBILE})

# Italian national numbers by leading digits (longest first wins); lengths are the national
# number's digits, as the numbering plan allows them.
_ITALIAN: tuple[tuple[str, str, range], ...] = (
    ("800", TOLL_FREE, range(6, 11)),
    ("803", TOLL_FREE, range(6, 11)),
    ("840", SHARED_COST, range(6, 11)),
    ("841", SHARED_COST, range(6, 11)),
    ("847", SHARED_COST, range(6, 11)),
    ("848", SHARED_COST, range(6, 11)),
    ("89", PREMIUM, range(6, 11)),
    ("55", NOMADIC, range(8, 12)),
    ("0", LANDLINE, range(6, 12)),
    ("3", MOBILE, range(9, 12)),
    ("1", SPECIAL, range(3, 12)),  # 112, 113, 115, 118, 12xy, 144, 166, 178, 199 ...
    ("4", SPECIAL, range(3, 12)),
    ("7", SPECIAL, range(3, 12)),
    ("8", SPECIAL, range(3, 12)),
)


class NumberError(ValueError):
    """Not a telephone number; the message says why."""


def normalise(raw: str, country: str = COUNTRY) -> str:
    """raw as E.164 ("+39...").

    "+..." and "00..." are international; anything else is a national number of `country`,
    written whole (Italian landlines keep their leading 0: 06 1234567 -> +39061234567).
    """
    text = _PUNCTUATION.sub("", raw or "")
    if not text:
        raise NumberError("no number")
    if not _DIGITS.fullmatch(text):
        raise NumberError("a number has only digits, spaces and an optional leading +")
    if text.startswith("+"):
        e164 = text
    elif text.startswith("00"):
        e164 = "+" + text[2:]
    else:
        e164 = f"+{country}{text}"
    digits = len(e164) - 1
    if digits > E164_MAX_DIGITS:
        raise NumberError(f"{digits} digits: longer than any telephone number (15)")
    if digits < 4 or e164[1] == "0":
        raise NumberError("not a complete international number")
    return e164


def classify(e164: str) -> str:
    """The kind of an E.164 number: LANDLINE, MOBILE, PREMIUM, INTERNATIONAL, ..."""
    if not e164.startswith("+" + COUNTRY):
        return INTERNATIONAL
    national = e164[1 + len(COUNTRY) :]
    for prefix, kind, lengths in _ITALIAN:
        if national.startswith(prefix):
            return kind if len(national) in lengths else UNKNOWN
    return UNKNOWN


@dataclass(frozen=True)
class DialPolicy:
    """Classes that may be dialled, and E.164 prefixes that say otherwise (longest wins)."""

    allowed: frozenset[str] = DEFAULT_ALLOWED
    allow_prefixes: tuple[str, ...] = ()
    deny_prefixes: tuple[str, ...] = ()
    country: str = COUNTRY

    def merged(
        self, allow_prefixes: tuple[str, ...] = (), deny_prefixes: tuple[str, ...] = ()
    ) -> DialPolicy:
        """This policy with a client's own prefixes added (a client narrows or widens it)."""
        return DialPolicy(
            self.allowed,
            self.allow_prefixes + allow_prefixes,
            self.deny_prefixes + deny_prefixes,
            self.country,
        )


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    number: str  # E.164 when it could be read, else what was given
    kind: str
    reason: str

    def __bool__(self) -> bool:
        return self.allowed


def check(policy: DialPolicy, raw: str) -> Verdict:
    """May the engine dial raw under policy? Always says why."""
    try:
        e164 = normalise(raw, policy.country)
    except NumberError as exc:
        return Verdict(False, raw, UNKNOWN, f"not a number: {exc}")
    kind = classify(e164)
    rules = [(p, True) for p in policy.allow_prefixes] + [(p, False) for p in policy.deny_prefixes]
    matching = [(len(p), not allow, p, allow) for p, allow in rules if e164.startswith(p)]
    if matching:
        # Longest prefix wins; at equal length a deny beats an allow.
        _, _, prefix, allow = max(matching)
        verb = "allowed" if allow else "refused"
        return Verdict(allow, e164, kind, f"{verb} by prefix {prefix}")
    if kind in policy.allowed:
        return Verdict(True, e164, kind, f"{kind} numbers may be dialled")
    return Verdict(False, e164, kind, f"{kind} numbers are refused")
