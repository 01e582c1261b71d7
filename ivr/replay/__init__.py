"""The stored calls read with the rules: `ivr simulate PATH --replay` decides the stored calls
again by candidate rules. It sits above both the rules (a pure decision) and the records (the
store), so that neither imports the other.
"""
