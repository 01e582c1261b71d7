"""The DTMF caller scenario: one SIP INFO per key, CSeq numbers in order, no placeholder left."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from ivr.harness.sipp import SippError, dtmf_scenario


def test_one_info_per_key_with_the_next_cseq():
    text = dtmf_scenario("1#", 750)
    scenario = ET.fromstring(text.encode())  # still well-formed XML
    assert re.findall(r"Signal=(.)", text) == ["1", "#"]
    assert re.findall(r"CSeq: (\d+) (\w+)", text) == [
        ("1", "INVITE"),
        ("1", "ACK"),
        ("2", "INFO"),
        ("3", "INFO"),
        ("4", "BYE"),
    ]
    assert text.count('<pause milliseconds="750"/>') == 2
    assert "Content-Type: application/dtmf-relay" in text
    written = " ".join(
        " ".join([element.text or "", *element.attrib.values()]) for element in scenario.iter()
    )  # what sipp reads: the comments do not count
    for placeholder in ("DIGIT", "DTMF_", "BYE_CSEQ"):
        assert placeholder not in written


@pytest.mark.parametrize("digits", ["", "1x", "12;"])
def test_keys_that_are_not_dtmf_are_refused(digits):
    with pytest.raises(SippError):
        dtmf_scenario(digits, 500)
