"""The patterns values of the rules files must match (spec.py and scriptspec.py use them)."""

from __future__ import annotations

TIME_RANGE = r"^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-4]):[0-5][0-9]$"
TIME = r"^([01][0-9]|2[0-4]):[0-5][0-9]$"
DIGITS = r"^[0-9]+$"
CALLER = r"^[0-9]+\*?$"
NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"  # ids: they become queue, endpoint and file names
# Control characters (C0, DEL, C1) and Unicode's line and paragraph separators: never in a
# one-line value (a line break would start a new config line, an AGI command or a mail header).
CONTROLS = r"\x00-\x1f\x7f-\x9f\u2028\u2029"
# Text on one line: no control characters, no blanks around it.
LINE = rf"^[^\s{CONTROLS}]([^{CONTROLS}]*[^\s{CONTROLS}])?$"
# A person's name as a caller ID shows it ("Anna" <op1> in pjsip.conf): one line, and none
# of the characters that end or reshape that form.
PERSON = rf'^[^\s"<>\\{CONTROLS}]([^"<>\\{CONTROLS}]*[^\s"<>\\{CONTROLS}])?$'
# Text that may run over lines (spoken prompts, notes for operators): no other controls.
TEXT = r"^[^\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]*$"
PHONE = r"^\+?[0-9]{3,15}$"  # an outside number: national, or E.164 with its +
PREFIX = r"^\+[0-9]{1,15}$"  # the start of E.164 numbers: +39, +3989, +41...
EMAIL = rf"^[^@\s<>\"(),;:\\{CONTROLS}]+@[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$"
# A sound file Asterisk plays: a name or a path, no ".." and nothing but plain characters.
FILE = r"^(?!.*\.\.)[A-Za-z0-9_/][A-Za-z0-9_./-]*$"
LANGUAGE = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$"
ZONE = r"^[A-Za-z][A-Za-z0-9_+/-]*$"
