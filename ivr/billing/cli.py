"""`ivr billing ...` and `ivr verify ...`: statements, payments, contests and the verification
sample, from a shell. Every command works on the database and the campaign files; the help
texts are written for the center's manager."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from ivr import config
from ivr.billing import audit, disputes, draw, payments, render, statement
from ivr.billing.results import Month
from ivr.campaigns.load import load_campaigns
from ivr.campaigns.model import Campaign
from ivr.records.db import make_engine, session_factory, upgrade
from ivr.services import clock_of

T = TypeVar("T")
Sessions = Any
RAW = argparse.RawDescriptionHelpFormatter


class Context:
    def __init__(self, args: argparse.Namespace) -> None:
        from ivr.routing import load_rules

        self.settings = config.load(getattr(args, "config", None))
        self.rules = load_rules(self.settings.rules)
        found = load_campaigns(self.settings.rules, self.rules, self.settings)
        self.campaigns: list[Campaign] = list(found.by_id.values())
        self.now = clock_of(self.settings)()

    def client(self, client_id: str) -> tuple[str, str]:
        """(name, time zone) of a client billed per result; exits with the choices if not."""
        billed = sorted({c.client_id for c in self.campaigns if c.billing is not None})
        client = self.rules.clients.get(client_id)
        if client is None or client_id not in billed:
            raise SystemExit(f"ivr: {client_id!r} is not a client billed per result"
                             f" (those are: {', '.join(billed) or 'none'})")  # fmt: skip
        return client.name, client.card.timezone

    def verified_clients(self, only: str | None) -> list[str]:
        found = sorted({c.client_id for c in self.campaigns if c.verifies})
        if only is not None:
            if only not in found:
                raise SystemExit(f"ivr: {only!r} has no appointment campaign with verification"
                                 f" (those who do: {', '.join(found) or 'none'})")  # fmt: skip
            return [only]
        return found

    def run(self, work: Callable[[Sessions], Awaitable[T]]) -> T:
        async def go() -> T:
            await upgrade(self.settings.db_url)
            engine = make_engine(self.settings.db_url)
            try:
                return await work(session_factory(engine))
            finally:
                await engine.dispose()

        return asyncio.run(go())


def month_arg(text: str) -> Month:
    try:
        return Month.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def cmd_statement(args: argparse.Namespace) -> int:
    ctx = Context(args)
    name, zone = ctx.client(args.client)
    view = ctx.run(lambda s: statement.statement(s, ctx.campaigns, args.client, name, zone,
                                                 args.month, ctx.now))  # fmt: skip
    print(render.text(view, "en"), end="")
    folder: Path = args.out
    folder.mkdir(parents=True, exist_ok=True)
    base = folder / f"{args.client}-{args.month}"
    base.with_suffix(".csv").write_text(render.csv_text(view, args.lang), encoding="utf-8-sig")
    base.with_suffix(".html").write_text(render.printable(view, args.lang), encoding="utf-8")
    print(f"written: {base}.csv, {base}.html (open it in a browser and print it, or save as PDF)")
    return 0


def cmd_issue(args: argparse.Namespace) -> int:
    ctx = Context(args)
    name, zone = ctx.client(args.client)
    try:
        view, new = ctx.run(lambda s: statement.issue(s, ctx.campaigns, args.client, name, zone,
                                                      args.month, args.by, ctx.now))  # fmt: skip
    except statement.StatementError as exc:
        print(f"ivr: {exc}", file=sys.stderr)
        return 1
    if new:
        print(f"statement {args.month} of {args.client} issued: EUR {view.total:.2f}; it is"
              " frozen from now on (later changes go on the next one)")  # fmt: skip
    else:
        print(
            f"statement {args.month} of {args.client} was issued before, on"
            f" {view.issued_at:%Y-%m-%d %H:%M} by {view.issued_by}: EUR {view.total:.2f}"
        )
    return 0


def cmd_payments(args: argparse.Namespace) -> int:
    ctx = Context(args)
    _, zone = ctx.client(args.client)
    path: Path = args.file
    try:
        raw = path.read_bytes()
    except OSError as exc:
        print(f"ivr: {exc}", file=sys.stderr)
        return 1
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")
    report = ctx.run(
        lambda s: payments.import_payments(
            s, ctx.campaigns, args.client, text, path.name, args.by, ctx.now, zone
        )
    )
    for line, column, reason in report.bad:
        print(f"{path.name}:{line}: {column}: {reason}")
    print(f"{report.confirmed} payments confirmed, {len(report.bad)} rows not taken")
    return 0 if not report.bad else 1


def cmd_disputes(args: argparse.Namespace) -> int:
    ctx = Context(args)
    _, zone = ctx.client(args.client)
    items = ctx.run(lambda s: disputes.report(s, ctx.campaigns, args.client, zone, ctx.now,
                                              args.month))  # fmt: skip
    print(disputes.text(items, zone), end="")
    return 0


def cmd_decide(args: argparse.Namespace) -> int:
    ctx = Context(args)
    ctx.client(args.client)
    problem = ctx.run(lambda s: disputes.decide(s, args.client, args.contest, args.decision,
                                                args.by, args.note, ctx.now))  # fmt: skip
    if problem is not None:
        print(f"ivr: {problem}", file=sys.stderr)
        return 1
    what = "credited" if args.decision == "credit" else "kept billed"
    print(f"contest {args.contest}: {what}, decided by {args.by}")
    return 0


def cmd_log(args: argparse.Namespace) -> int:
    ctx = Context(args)
    ctx.client(args.client)

    async def work(sessions: Sessions) -> list[audit.Entry]:
        async with sessions() as session:
            return await audit.entries(session, args.client, limit=args.limit)

    for e in ctx.run(work):
        erased = " (personal data erased)" if e.erased else ""
        print(f"{e.at:%Y-%m-%d %H:%M} {e.who}: {e.subject} {e.action} {e.before or ''}"
              f" -> {e.after or ''}{erased}")  # fmt: skip
    return 0


def cmd_draw(args: argparse.Namespace) -> int:
    ctx = Context(args)
    settings = ctx.settings
    status, drew = 0, False
    for client_id in ctx.verified_clients(args.client):
        zone = ctx.rules.clients[client_id].card.timezone

        async def one(sessions: Sessions, client_id: str = client_id, zone: str = zone) -> Any:
            return await draw.draw_month(
                sessions, ctx.campaigns, client_id, args.month, zone,
                share=settings.verify_share, minimum=settings.verify_minimum,
                grace_days=settings.verify_grace_days, who=args.by, now=ctx.now,
            )  # fmt: skip

        try:
            made = ctx.run(one)
        except draw.DrawError as exc:
            print(f"{client_id}: {exc}")
            status = max(status, 1 if isinstance(exc, draw.NotDue) else 0)
            continue
        row = made.draw
        drew = drew or made.new
        if made.new:
            print(
                f"{client_id} {args.month}: drew {len(row.drawn)} of {len(row.population)}"
                f" appointments (seed {row.seed}): {', '.join(f'A{a}' for a in row.drawn)}"
            )
        else:
            print(
                f"{client_id} {args.month}: drawn before, on {row.drawn_at:%Y-%m-%d %H:%M} by"
                f" {row.drawn_by}; a month is drawn once, never again (ivr verify show)"
            )
    if drew:
        print(_wake(settings))
    return status


def _wake(settings: config.Settings) -> str:
    from ivr.control import call_engine

    try:
        code, _ = call_engine(settings, "/campaigns/wake", "POST")
    except OSError:
        return "no engine is running: the calls start when it does"
    return "the verification calls start now" if code == 200 else f"the engine answered {code}"


def cmd_show(args: argparse.Namespace) -> int:
    ctx = Context(args)
    for client_id in ctx.verified_clients(args.client):
        row = ctx.run(partial(draw.find, client_id=client_id, month=args.month))
        if row is None:
            print(f"{client_id} {args.month}: not drawn")
            continue
        same = "yes" if draw.reproduce(row) else "NO: the stored sample does not match"
        print(f"{client_id} {args.month}: drawn {row.drawn_at:%Y-%m-%d %H:%M} by {row.drawn_by},"
              f" seed {row.seed}, share {row.share:.2%}, minimum {row.minimum}")  # fmt: skip
        print(
            f"  population ({len(row.population)}): "
            + ", ".join(f"A{a} by {op}" for a, op in row.population)
        )
        print(f"  drawn ({len(row.drawn)}): {', '.join(f'A{a}' for a in row.drawn)}")
        print(f"  drawn again from the seed: {same}")
    return 0


HELP_BILLING = """\
Outbound work is paid per result: appointments held, payments confirmed, sales. Each
campaign's file says what counts and its price bands (billing: in the campaign's YAML).
A month's statement is a draft until it is issued; once issued it never changes, and what
changes later (a contest accepted, a visit found not held, a payment confirmed late) is a
credit or debit line on the next statement.

examples:
  ivr billing statement rossi-idraulica --month 2026-12      print it, write CSV and HTML
  ivr billing issue rossi-idraulica --month 2026-12          freeze it (the engine does it
                                                             by itself on billing_issue_day)
  ivr billing payments rossi-idraulica payments.csv          payments the client received
  ivr billing disputes casa-bella-immobiliare --month 2026-12   contests and their evidence
  ivr billing decide casa-bella-immobiliare 7 reject --note "the visit was confirmed"
"""

HELP_VERIFY = """\
Each month a sample of each client's appointments is verified by phone: an operator other
than the one who booked it asks the business whether the visit took place and how it went.
The sample is a share of the month's appointments (verify_share, 4 %) with a minimum
(verify_minimum, 3; all of them when there are fewer), spread across the operators, drawn
from a random seed kept with it. A month is drawn once, after it is over and the grace
period (verify_grace_days) has passed, and never again; anyone can draw it again from the
seed and see the same list. Contested appointments are verified first, on top of it.

examples:
  ivr verify draw --month 2026-12          draw every client's sample (the engine does it
                                           by itself when verify_auto_draw is on)
  ivr verify show --month 2026-12 --client casa-bella-immobiliare
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    me = getpass.getuser()
    top = sub.add_parser("billing", help="statements, payments and contests of results paid",
                         description=HELP_BILLING, formatter_class=RAW)  # fmt: skip
    actions = top.add_subparsers(dest="action", required=True, metavar="ACTION")
    st = actions.add_parser(
        "statement",
        help="print a client's statement of a month; write it as CSV and HTML",
        description="The month's statement (as issued, or the draft): each campaign's results"
        " with their price, the band reached and how far the next one is, what is contested,"
        " credited or not held, and the credits and debits for earlier months.",
    )
    st.add_argument("client", help="the client's id (as in routing_rules/clients/)")
    st.add_argument("--month", type=month_arg, required=True, help="YYYY-MM")
    st.add_argument("--out", type=Path, default=Path("."), help="folder of the CSV and HTML")
    st.add_argument("--lang", choices=["it", "en"], default="it", help="of the CSV and HTML")
    st.set_defaults(func=cmd_statement)
    iss = actions.add_parser("issue", help="issue (freeze) a client's statement of a month")
    iss.add_argument("client")
    iss.add_argument("--month", type=month_arg, required=True, help="YYYY-MM, a month over")
    iss.add_argument("--by", default=me, help="who issues it (for the log)")
    iss.set_defaults(func=cmd_issue)
    pay = actions.add_parser(
        "payments",
        help="confirm payments a client received, from a CSV file",
        description="A CSV (comma or semicolon) with the columns invoice (or number),"
        " amount and paid_on: each row confirms the promise to pay of that invoice or debtor."
        " Bad rows are listed with their line and column; the good ones are taken.",
    )
    pay.add_argument("client")
    pay.add_argument("file", type=Path)
    pay.add_argument("--by", default=me, help="who confirms them (for the log)")
    pay.set_defaults(func=cmd_payments)
    dis = actions.add_parser("disputes", help="a client's contests with their evidence")
    dis.add_argument("client")
    dis.add_argument("--month", type=month_arg, help="only the results of this month")
    dis.set_defaults(func=cmd_disputes)
    dec = actions.add_parser(
        "decide",
        help="decide a contest: credit it, or keep the result billed",
        description="credit: the result is no longer billed (a credit line if its statement"
        " was issued); reject: it stays billed. The decision is final and logged.",
    )
    dec.add_argument("client")
    dec.add_argument("contest", type=int, help="the contest's number (ivr billing disputes)")
    dec.add_argument("decision", choices=sorted(disputes.DECISIONS))
    dec.add_argument("--by", default=me, help="who decides (for the log)")
    dec.add_argument("--note", default="", help="why, in a few words")
    dec.set_defaults(func=cmd_decide)
    log = actions.add_parser("log", help="the audit log of a client's billing")
    log.add_argument("client")
    log.add_argument("--limit", type=int, default=500)
    log.set_defaults(func=cmd_log)

    verify = sub.add_parser("verify", help="the monthly verification sample of appointments",
                            description=HELP_VERIFY, formatter_class=RAW)  # fmt: skip
    vactions = verify.add_subparsers(dest="action", required=True, metavar="ACTION")
    dr = vactions.add_parser("draw", help="draw the month's sample (once; never again)")
    dr.add_argument("--month", type=month_arg, required=True, help="YYYY-MM, a month over")
    dr.add_argument("--client", help="one client only (default: every client)")
    dr.add_argument("--by", default=me, help="who draws it (for the log)")
    dr.set_defaults(func=cmd_draw)
    sh = vactions.add_parser("show", help="a month's draw: seed, list, and a check it reproduces")
    sh.add_argument("--month", type=month_arg, required=True, help="YYYY-MM")
    sh.add_argument("--client", help="one client only")
    sh.set_defaults(func=cmd_show)
