"""Paid per result: what a result is and what it earns, statements, verification calls on a
sample, and disputes settled with evidence.

bands.py: the band arithmetic (pure); terms.py: a campaign's `billing:` section; models.py:
the tables; results.py: a month's results, read from the campaigns' rows; statement.py: the
month's statement, frozen once issued; payments.py: amounts the client confirms; draw.py and
verify.py: the verification sample and its calls; disputes.py: contests and their evidence;
audit.py: the append-only log of every change; area.py, cli.py, schedule.py: the client's
page, `ivr billing` / `ivr verify`, and the engine's job that draws and issues when due.
"""

from ivr.billing.extension import BillingExtension
from ivr.campaigns.extensions import register

# Whatever loads billing (the engine's features, the `ivr` command) hooks it into the campaigns.
register(BillingExtension())
