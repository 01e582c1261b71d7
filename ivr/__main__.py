"""The `ivr` command: parse arguments, load the settings, run one subcommand."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from ivr import config

log = logging.getLogger("ivr")


def _settings(args: argparse.Namespace) -> config.Settings:
    settings = config.load(getattr(args, "config", None))
    # The settings' level (the file's `log_level`, or IVR_LOG_LEVEL over it) is the engine's.
    logging.getLogger().setLevel(settings.log_level.upper())
    return settings


def cmd_serve(args: argparse.Namespace) -> int:
    import uvloop  # libuv's event loop: the same asyncio, a fraction of the CPU per socket

    from ivr.engine import Engine

    uvloop.run(Engine(_settings(args)).run())
    return 0


def cmd_provision(args: argparse.Namespace) -> int:
    from ivr.asterisk.provision import provision

    root, version = provision()
    print(f"{version} ({'chroot ' + str(root) if root else 'host'})")
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    from ivr.asterisk.render import render_instance

    etc = render_instance(_settings(args))
    print(f"rendered {etc}")
    return 0


def cmd_asterisk_start(args: argparse.Namespace) -> int:
    from ivr.asterisk.instance import Asterisk
    from ivr.asterisk.render import render_instance

    settings = _settings(args)
    render_instance(settings)
    asyncio.run(Asterisk(settings).start_daemon())
    print(f"Asterisk {settings.instance} is running (SIP {settings.bind}:{settings.ports.sip})")
    return 0


def cmd_asterisk_stop(args: argparse.Namespace) -> int:
    from ivr.asterisk.instance import Asterisk

    asyncio.run(Asterisk(_settings(args)).stop())
    return 0


def cmd_asterisk_cli(args: argparse.Namespace) -> int:
    from ivr.asterisk.instance import Asterisk

    print(asyncio.run(Asterisk(_settings(args)).cli(" ".join(args.words))), end="")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from ivr.control import call_engine

    settings = _settings(args)
    try:
        code, body = call_engine(settings, "/api/status")
    except OSError as exc:
        print(f"the engine is not running ({exc})", file=sys.stderr)
        return 1
    print(json.dumps(body, indent=2))
    return 0 if code == 200 else 1


def cmd_reload(args: argparse.Namespace) -> int:
    from ivr.control import call_engine

    settings = _settings(args)
    try:
        code, body = call_engine(settings, "/api/reload", "POST")
    except OSError as exc:
        print(f"the engine is not running ({exc})", file=sys.stderr)
        return 1
    print(body.get("message", ""))
    return 0 if code == 200 else 1


def cmd_demo(args: argparse.Namespace) -> int:
    # The demo is harness (sipp phones, a stack): loaded here only, so the engine never is it.
    from ivr.engine import Engine
    from ivr.harness.sipp import SippError

    try:
        if getattr(args, "campaign", False):
            from ivr.harness.campaign_demo import run_campaign_demo

            return asyncio.run(run_campaign_demo(_settings(args), Engine))
        from ivr.harness.demo import run_demo

        return asyncio.run(run_demo(_settings(args), Engine, keep=args.keep))
    except SippError as exc:
        print(f"ivr: {exc}", file=sys.stderr)
        return 2


def parser() -> argparse.ArgumentParser:
    from ivr.area.cli import register as register_users
    from ivr.billing.cli import register as register_billing
    from ivr.campaigns.cli import register as register_campaigns
    from ivr.cluster.cli import register as register_cluster
    from ivr.escalation.report import register as register_escalations
    from ivr.portal.cli import register as register_console
    from ivr.privacy.run import register as register_privacy
    from ivr.records.report import register as register_calls
    from ivr.replay.cli import register as register_replay
    from ivr.routing.cli import register as register_rules
    from ivr.routing.zones import client_zones

    top = argparse.ArgumentParser(prog="ivr", description=__doc__)
    top.add_argument("--config", type=Path, help="a TOML settings file (or IVR_CONFIG)")
    sub = top.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the FastAGI server and the AMI client").set_defaults(
        func=cmd_serve
    )
    sub.add_parser("status", help="what the running engine is doing").set_defaults(func=cmd_status)
    sub.add_parser("reload", help="check and load the routing rules again").set_defaults(
        func=cmd_reload
    )
    demo = sub.add_parser("demo", help="a whole demo with real Asterisk and sipp")
    demo.add_argument("--keep", action="store_true", help="keep it running until Ctrl-C")
    demo.add_argument(
        "--campaign", action="store_true", help="a short campaign worked between inbound calls"
    )
    demo.set_defaults(func=cmd_demo)
    ast = sub.add_parser("asterisk", help="the Asterisk PBX").add_subparsers(
        dest="action", required=True
    )
    ast.add_parser("provision", help="get Asterisk 22 and print its version").set_defaults(
        func=cmd_provision
    )
    ast.add_parser("render", help="write the instance's Asterisk config").set_defaults(
        func=cmd_render
    )
    ast.add_parser("start", help="render the config and start Asterisk").set_defaults(
        func=cmd_asterisk_start
    )
    ast.add_parser("stop", help="stop Asterisk").set_defaults(func=cmd_asterisk_stop)
    cli = ast.add_parser("cli", help="run one Asterisk CLI command")
    cli.add_argument("words", nargs="+")
    cli.set_defaults(func=cmd_asterisk_cli)
    register_billing(sub)
    register_calls(sub, client_zones)
    register_campaigns(sub)
    register_cluster(sub)
    register_console(sub)
    register_escalations(sub)
    register_privacy(sub)
    register_rules(sub)
    register_replay(sub)  # after the rules: it adds --replay to their `simulate`
    register_users(sub)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    level = os.environ.get("IVR_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(
        level=getattr(logging, level, logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from ivr.asterisk.instance import AsteriskError
    from ivr.asterisk.provision import ProvisionError
    from ivr.cluster.database import DatabaseError
    from ivr.cluster.kamailio import KamailioError
    from ivr.routing import RulesError

    try:
        return int(args.func(args) or 0)
    except config.ConfigError as exc:
        print(f"ivr: configuration error: {exc}", file=sys.stderr)
        return 2
    except RulesError as exc:
        print(f"ivr: the routing rules are invalid:\n{exc}", file=sys.stderr)
        return 2
    except (AsteriskError, ProvisionError, KamailioError, DatabaseError) as exc:
        print(f"ivr: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
