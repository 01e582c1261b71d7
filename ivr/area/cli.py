"""`ivr users`: the client area's accounts from the command line."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from ivr.clock import utcnow


def register(sub: Any) -> None:
    top = sub.add_parser("users", help="the client area's user accounts").add_subparsers(
        dest="action", required=True
    )
    add = top.add_parser("add", help="add a user to a client; prints a generated password")
    add.add_argument("client")
    add.add_argument("email")
    add.add_argument("--role", choices=("admin", "member"), default="member")
    add.add_argument("--name", default="")
    add.add_argument("--language", choices=("it", "en"), default="it")
    add.set_defaults(func=run, verb="add")
    remove = top.add_parser("remove", help="remove a user (and end their sessions)")
    remove.add_argument("client")
    remove.add_argument("email")
    remove.set_defaults(func=run, verb="remove")
    reset = top.add_parser(
        "reset", help="a new generated password, second factor off, sessions ended"
    )
    reset.add_argument("client")
    reset.add_argument("email")
    reset.set_defaults(func=run, verb="reset")
    listing = top.add_parser("list", help="the users, of one client or all")
    listing.add_argument("client", nargs="?")
    listing.set_defaults(func=run, verb="list")


async def _run(args: argparse.Namespace) -> int:
    from ivr.area import users
    from ivr.config import load
    from ivr.records.db import make_engine, session_factory, upgrade
    from ivr.routing import load_rules
    from ivr.web.auth import Policy, WebAuth

    settings = load(getattr(args, "config", None))
    client: str = getattr(args, "client", None) or ""
    if client and args.verb == "add" and client not in load_rules(settings.rules).clients:
        print(f"ivr: no client {client!r} in the routing rules")
        return 2
    await upgrade(settings.db_url)
    engine = make_engine(settings.db_url)
    now = utcnow()
    sessions = session_factory(engine)
    auth = WebAuth(sessions, "area", "ivr_area", "/area", Policy.of(settings), lambda: now)
    try:
        if args.verb == "list":
            found = await (
                users.of_client(sessions, client) if client else users.all_users(sessions)
            )
            for u in found:
                totp = "totp" if u.totp_on else ""
                print(f"{u.client_id:24} {u.email:32} {u.role:7} {u.language} {u.notify:7} {totp}")
            return 0
        if args.verb == "add":
            password = users.new_password()
            try:
                user = await users.add_user(
                    sessions, client, args.email, password, now,
                    role=args.role, name=args.name, language=args.language,
                )  # fmt: skip
            except users.AccountError as exc:
                print(f"ivr: {exc}")
                return 2
            print(f"{user.email} ({user.role}) can log in to {client}'s area with: {password}")
            return 0
        found_user = await users.by_email(sessions, args.email)
        if found_user is None or found_user.client_id != client:
            print(f"ivr: {args.email} has no account with {client}")
            return 2
        user = found_user
        await auth.end_all(str(user.id))
        if args.verb == "remove":
            await users.remove(sessions, user.id)
            print(f"{user.email} removed")
            return 0
        password = users.new_password()
        await users.set_password(sessions, user.id, password)
        await users.totp_enable(sessions, user.id, False)
        print(f"{user.email}: new password {password} (second factor off, sessions ended)")
        return 0
    finally:
        await engine.dispose()


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args))
