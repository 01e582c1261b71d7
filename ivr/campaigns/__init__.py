"""Outbound campaigns for clients: payment reminders, appointment setting and promotion,
worked by the same operators between inbound calls (inbound always first).

spec.py/load.py: the campaign files; windows.py, eligibility.py, pacing.py: the pure rules
(who may be called, when, how many lines); importer.py: contact lists; models.py/store.py:
the rows; dialcheck.py: what the dial-time check reads about a number, and its refusal log;
dialer.py: the engine feature that places the calls; console.py: the outbound card.
"""
