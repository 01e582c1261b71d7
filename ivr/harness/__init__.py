"""What the tests, the demos and the benchmarks use to start stacks, phones and databases:
a real Asterisk with the engine beside it, sipp callers and phones, a PostgreSQL cluster, a
client of the operators' console. The engine never imports this package; the `ivr demo`
command loads it lazily."""

# The campaigns as the engine and the `ivr` command load them: with billing's hooks (terms,
# verification campaigns), which the billing package registers when it is imported.
import ivr.billing  # noqa: F401
