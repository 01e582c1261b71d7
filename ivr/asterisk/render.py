"""Write a complete, isolated Asterisk config folder from the templates.

Templates live in asterisk_conf/ (one per Asterisk config file) and dialplan/; StrictUndefined
makes a misspelt variable an error at render time rather than an empty string in a config.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2

from ivr import variables
from ivr.account import cel
from ivr.agi.server import AGI_TOKEN
from ivr.ami.events import EXCLUDED, LISTENED, READ_CLASSES, WRITE_CLASSES
from ivr.asterisk.account import hand_over
from ivr.asterisk.webrtc import (
    PHONES_AMI_USER,
    REGISTER_EXPIRES,
    WEB_AUTH_FAMILY,
    ice_host_candidates,
    phones_ami_secret,
)
from ivr.config import Settings, operator_password, trunk_networks
from ivr.variables import WEB_PHONE_SUFFIX, desk_endpoint, dial_string

if TYPE_CHECKING:
    from ivr.routing.model import Rules

log = logging.getLogger(__name__)

MODULE_DIR = "/usr/lib/x86_64-linux-gnu/asterisk/modules"
# Modules that cost start-up time or per-call CPU and that this engine does not use.
NOLOAD = (
    "cdr_adaptive_odbc cdr_csv cdr_custom cdr_manager cdr_odbc cdr_pgsql cdr_radius "
    "cdr_sqlite3_custom cdr_tds cel_manager cel_odbc cel_pgsql cel_radius "
    "cel_sqlite3_custom cel_tds chan_iax2 chan_motif chan_unistim chan_console chan_websocket "
    "chan_audiosocket res_ari res_ari_applications res_ari_asterisk res_ari_bridges "
    "res_ari_channels res_ari_device_states res_ari_endpoints res_ari_events res_ari_model "
    "res_ari_playbacks res_ari_recordings res_ari_sounds res_stasis_test pbx_lua pbx_ael "
    "pbx_dundi pbx_realtime res_calendar res_calendar_caldav res_calendar_ews "
    "res_calendar_exchange res_calendar_icalendar res_xmpp res_phoneprov "
    "res_pjsip_phoneprov_provider res_config_curl res_config_ldap res_config_odbc "
    "res_config_pgsql res_config_sqlite3 res_odbc res_odbc_transaction func_odbc "
    "app_voicemail_odbc app_voicemail app_minivm res_snmp res_statsd res_prometheus "
    "res_hep res_hep_pjsip res_hep_rtcp res_smdi res_fax res_fax_spandsp app_jack "
    "res_pjsip_stir_shaken res_stir_shaken res_geolocation res_aeap res_speech_aeap "
    "res_resolver_unbound "
    "res_websocket_client app_festival res_stun_monitor res_pjsip_outbound_publish "
    "res_pjsip_publish_asterisk app_cdr app_forkcdr func_cdr "
    "res_pjsip_exten_state app_stasis res_pjsip_geolocation res_stasis res_stasis_answer "
    "res_stasis_broadcast app_stasis_broadcast res_stasis_device_state res_stasis_playback "
    "res_stasis_recording res_stasis_snoop res_pjsip_notify res_parking app_agent_pool "
    "app_confbridge app_page app_alarmreceiver app_followme res_clialiases "
    "res_http_media_cache res_adsi app_adsiprog app_getcpeid res_pjsip_config_wizard"
).split()

CONF_TEMPLATES = {
    "asterisk.conf": "asterisk_conf/asterisk.conf.j2",
    "modules.conf": "asterisk_conf/modules.conf.j2",
    "logger.conf": "asterisk_conf/logger.conf.j2",
    "manager.conf": "asterisk_conf/manager.conf.j2",
    "rtp.conf": "asterisk_conf/rtp.conf.j2",
    "pjsip.conf": "asterisk_conf/pjsip.conf.j2",
    "queues.conf": "asterisk_conf/queues.conf.j2",
    "amd.conf": "asterisk_conf/amd.conf.j2",
    "musiconhold.conf": "asterisk_conf/musiconhold.conf.j2",
    "cel.conf": "asterisk_conf/cel.conf.j2",
    "cel_custom.conf": "asterisk_conf/cel_custom.conf.j2",
    "http.conf": "asterisk_conf/http.conf.j2",
    "sorcery.conf": "asterisk_conf/sorcery.conf.j2",
    "extensions.conf": "dialplan/extensions.conf.j2",
}
# Files holding a secret: the AMI secret, SIP passwords, the FastAGI token in AGI URLs.
SECRET_FILES = {"manager.conf", "pjsip.conf", "extensions.conf"}
# A section name (and an endpoint, queue or member id) is one plain word.
SECTION = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# What would end or reshape a caller ID "name" <id> written in pjsip.conf.
_CALLERID_UNSAFE = re.compile(r'["<>\\]')


class RenderError(ValueError):
    """A value cannot be written into an Asterisk config file safely."""


def section(value: object) -> str:
    """A section, endpoint or queue name: one plain word, or RenderError."""
    text = str(value)
    if not SECTION.fullmatch(text):
        raise RenderError(f"{text!r} cannot name an Asterisk section: letters, digits, _ . -")
    return text


def conf_value(value: object) -> str:
    """A value after `key =`: one line, with `;` (a comment otherwise) escaped as Asterisk's
    config parser expects. Leading and trailing blanks would be stripped, so they are refused."""
    text = str(value)
    if _CONTROL.search(text) or text != text.strip():
        raise RenderError(
            f"{text!r}: no control characters or surrounding blanks in a config value"
        )
    return text.replace(";", "\\;")


def callerid_name(value: object) -> str:
    """The name part of a `callerid = "name" <id>` line."""
    text = str(value)
    if _CALLERID_UNSAFE.search(text):
        raise RenderError(f"{text!r}: no quotes, angle brackets or backslashes in a caller ID name")
    return conf_value(text)


RUN_SUBDIRS = (
    "etc",
    "db",
    "keys",
    "spool",
    "run",
    "log",
    "cache",
    "agi-bin",
    "messages",
    "recordings",
)


@dataclass(frozen=True)
class Operator:
    id: str
    name: str


@dataclass(frozen=True)
class QueueMember:
    id: str  # the operator id: the MemberName in app_queue's AMI events
    endpoint: str
    penalty: int = 0


@dataclass(frozen=True)
class Queue:
    """An operator group as an app_queue queue."""

    id: str
    strategy: str
    members: tuple[QueueMember, ...]
    ring_seconds: int = 15
    wrapup_seconds: int = 0
    # A member in several queues is offered first to the queue of highest weight that has a
    # caller waiting: inbound groups outweigh the outbound campaigns' queues.
    weight: int = 0


@dataclass(frozen=True)
class Trunk:
    """Where calls to outside numbers go: the carrier's gateway (a sipp phone in tests).
    Diverted calls are accepted from the addresses of the setting trunk_addresses only."""

    address: str = "127.0.0.2"
    port: int = 5060


INBOUND_WEIGHT = 10  # outbound campaigns' queues weigh 0: inbound callers are served first


def penalty_of(rules: Rules, group_id: str, operator: str) -> int:
    """0 for a member with the group's skill (or when the group names none), else 1:
    app_queue offers a call to higher penalties only when no lower one is free."""
    skill = rules.groups[group_id].skill
    return 0 if skill is None or skill in rules.operators[operator].skills else 1


def queues_of(rules: Rules, ring_seconds: int) -> list[Queue]:
    """Every operator group as a queue; an operator rings at most the group's whole wait."""
    return [
        Queue(
            id=group.id,
            strategy=group.strategy,
            members=tuple(
                QueueMember(op, rules.operators[op].endpoint, penalty_of(rules, group.id, op))
                for op in group.members
            ),
            ring_seconds=max(1, min(ring_seconds, group.timeout)),
            weight=INBOUND_WEIGHT,
        )
        for group in rules.groups.values()
    ]


def environment(home: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(home)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters.update(section=section, conf=conf_value, callerid_name=callerid_name)
    return env


def render(
    settings: Settings,
    operators: list[Operator],
    fallback: list[str],
    trunk: Trunk | None = None,
    bench: Any = None,
    queues: list[Queue] | None = None,
) -> Path:
    """Write every config file for this instance; return the etc folder (host path)."""
    run = settings.host_run_dir
    for sub in RUN_SUBDIRS:
        (run / sub).mkdir(parents=True, exist_ok=True)
    known = {op.id for op in operators}
    taken = sorted(op.id for op in operators if desk_endpoint(op.id) in known - {op.id})
    if taken:  # "x-web" is operator x's browser phone
        raise RenderError(f"operator ids ending in {WEB_PHONE_SUFFIX} name browser phones: {taken}")
    unknown = [op for op in fallback if op not in known]
    if unknown:
        raise ValueError(f"fallback operators not defined: {', '.join(unknown)}")
    media_address = settings.sip_address or settings.bind
    context = {
        "s": settings,
        "v": variables,
        "run": str(settings.run_dir),
        "moddir": MODULE_DIR,
        "noload": NOLOAD,
        "agi_url": settings.agi_url,
        "trunk": trunk or Trunk(),
        "trunk_match": ",".join(trunk_networks(settings.trunk_addresses)),
        "operator_proxy": conf_value(settings.operator_proxy),
        "sip_address": media_address,
        "web_suffix": WEB_PHONE_SUFFIX,
        "phones_ami_user": PHONES_AMI_USER,
        "phones_ami_secret": phones_ami_secret(settings.ami_secret),
        "web_auth_family": WEB_AUTH_FAMILY,
        "web_expires": REGISTER_EXPIRES,
        "ice_host_candidates": ice_host_candidates(media_address),
        "agi_query": f"?{AGI_TOKEN}={settings.agi_token}",
        "operators": [
            {"id": op.id, "name": op.name, "password": operator_password(settings, op.id)}
            for op in operators
        ],
        "fallback_targets": dial_string([section(op) for op in fallback]),
        "queues": queues or [],
        "bench": bench,
        "ami_events": LISTENED,
        "ami_excluded": EXCLUDED,
        "cel_events": cel.EVENTS,
        "cel_apps": cel.APPS,
        "cel_fields": cel.FIELDS,
        "cel_file": str(settings.run_dir / "log" / cel.FILE_NAME),
        "ami_read": ",".join(READ_CLASSES),
        "ami_write": ",".join(WRITE_CLASSES),
    }
    env = environment(settings.home)
    etc = run / "etc"
    for name, template in CONF_TEMPLATES.items():
        text = env.get_template(template).render(context)
        _write(etc / name, text, secret=name in SECRET_FILES)
    hand_over(settings, run, etc, SECRET_FILES)
    log.info("rendered Asterisk config for %s into %s", settings.instance, etc)
    return etc


def _write(path: Path, text: str, *, secret: bool) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if secret else 0o644)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


def render_instance(settings: Settings, bench: object = None, trunk: Trunk | None = None) -> Path:
    """Render this instance's Asterisk config from the templates and the routing rules."""
    # Loaded here: the campaigns' queues are built of this module's Queue.
    from ivr.campaigns.queues import campaign_queues
    from ivr.routing import load_rules

    rules = load_rules(settings.rules)
    operators = [Operator(op.endpoint, op.name) for op in rules.operators.values()]
    fallback = [rules.operators[m].endpoint for m in rules.groups[rules.fallback_group].members]
    queues = queues_of(rules, settings.ring_timeout)
    queues += campaign_queues(settings, rules)
    return render(settings, operators, fallback, trunk=trunk, bench=bench, queues=queues)
