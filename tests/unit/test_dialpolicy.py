"""The outbound dial policy: normalisation to E.164 and the Italian ranges, table-driven."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ivr.dialpolicy import (
    INTERNATIONAL,
    LANDLINE,
    MOBILE,
    NOMADIC,
    PREMIUM,
    SHARED_COST,
    SPECIAL,
    TOLL_FREE,
    UNKNOWN,
    DialPolicy,
    NumberError,
    check,
    classify,
    normalise,
)


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("06 1234567", "+39061234567"),
        ("+39 06-1234.567", "+39061234567"),
        ("(02) 1234 5678", "+390212345678"),
        ("333/1234567", "+393331234567"),
        ("3331234567", "+393331234567"),
        ("0039 333 1234567", "+393331234567"),
        ("+44 20 7946 0958", "+442079460958"),  # the + is kept, not dropped
        ("0044 20 7946 0958", "+442079460958"),
    ],
)
def test_normalise(raw: str, e164: str) -> None:
    assert normalise(raw) == e164


@pytest.mark.parametrize(
    "raw", ["", "   ", "abc", "06;1234", "+", "+0612345", "1" * 16, "06\n1234", "333,1", "++39"]
)
def test_normalise_refuses_what_is_not_a_number(raw: str) -> None:
    with pytest.raises(NumberError):
        normalise(raw)


@pytest.mark.parametrize(
    ("e164", "kind"),
    [
        ("+39061234567", LANDLINE),
        ("+390212345678", LANDLINE),
        ("+390811234567", LANDLINE),
        ("+393331234567", MOBILE),
        ("+39320123456", MOBILE),  # an old 9-digit mobile
        ("+39800123456", TOLL_FREE),
        ("+39803123", TOLL_FREE),
        ("+39848123456", SHARED_COST),
        ("+39840123456", SHARED_COST),
        ("+39899123456", PREMIUM),
        ("+39892123", PREMIUM),
        ("+39895123456", PREMIUM),
        ("+39166123456", SPECIAL),
        ("+39144123456", SPECIAL),
        ("+39112", SPECIAL),
        ("+39118", SPECIAL),
        ("+39178123456", SPECIAL),
        ("+39199123456", SPECIAL),
        ("+39412345", SPECIAL),
        ("+39701234567", SPECIAL),
        ("+395512345678", NOMADIC),
        ("+442079460958", INTERNATIONAL),
        ("+41441234567", INTERNATIONAL),
        ("+3780549123456", INTERNATIONAL),  # San Marino
        ("+39061", UNKNOWN),  # too short for a landline
        ("+3933", UNKNOWN),
        ("+39212345678", UNKNOWN),  # 2: reserved
    ],
)
def test_classify_italian_ranges(e164: str, kind: str) -> None:
    assert classify(e164) == kind


@pytest.mark.parametrize(
    ("raw", "allowed"),
    [
        ("06 1234567", True),
        ("333 1234567", True),
        ("00881234567", False),  # satellite: international
        ("+44 20 7946 0958", False),
        ("899 123456", False),
        ("892 123", False),
        ("166 123456", False),
        ("112", False),
        ("848 123456", False),
        ("800 123456", False),
        ("not a number", False),
        ("op1&PJSIP/00881234567@trunk", False),
    ],
)
def test_default_policy_allows_only_italian_landlines_and_mobiles(raw: str, allowed: bool) -> None:
    verdict = check(DialPolicy(), raw)
    assert bool(verdict) is allowed, verdict.reason
    assert verdict.reason


def test_prefixes_widen_and_narrow_the_policy_longest_first() -> None:
    policy = DialPolicy().merged(allow_prefixes=("+41", "+39800"), deny_prefixes=("+39333",))
    assert check(policy, "+41 44 123 45 67")  # Switzerland allowed for this client
    assert check(policy, "800 123456")  # one toll-free range allowed
    assert not check(policy, "333 1234567")  # a whole mobile range refused
    assert check(policy, "334 1234567")
    narrower = policy.merged(deny_prefixes=("+4144",))
    verdict = check(narrower, "+41 44 123 45 67")
    assert not verdict and "+4144" in verdict.reason
    same_length = DialPolicy(allow_prefixes=("+4144",), deny_prefixes=("+4144",))
    assert not check(same_length, "+41441234567")  # at equal length, deny wins


@given(st.text(max_size=40))
def test_an_allowed_number_is_always_plain_e164(raw: str) -> None:
    verdict = check(DialPolicy(), raw)
    if verdict:
        assert verdict.number.startswith("+39")
        assert verdict.number[1:].isdigit() and len(verdict.number) <= 16
