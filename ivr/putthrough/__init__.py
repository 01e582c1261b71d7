"""Screening and putting through: the operator connects wanted callers to the client's people
(announced or direct), the rules put screened callers straight through, and every attempt is
on record."""
