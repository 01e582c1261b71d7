"""Settings: defaults, then an optional TOML file, then IVR_* environment variables.

Everything is validated into one frozen object at start-up; a bad value fails fast with the
name of the setting that is wrong.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import secrets
import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

PROJECT_HOME = Path(__file__).resolve().parent.parent
_PLAIN = re.compile(r"[A-Za-z0-9_-]+")


class ConfigError(Exception):
    """A setting is missing or malformed."""


@dataclass(frozen=True)
class Ports:
    agi: int = 14573
    ami: int = 15038
    sip: int = 15060
    rtp_start: int = 20000
    rtp_end: int = 20999
    http: int = 18080
    # UDP: a node's engine answers Kamailio's OPTIONS pings here (a node of a cluster only).
    probe: int = 15062
    # Asterisk's own HTTP server (loopback only): the browser phones' SIP over WebSocket,
    # which reaches it through the console's relay, never directly.
    asterisk_http: int = 18088


@dataclass(frozen=True)
class Settings:
    """The engine's whole configuration."""

    home: Path = PROJECT_HOME
    # Where Asterisk lives: a chroot folder holding /usr/sbin/asterisk, or None for the host's.
    asterisk_root: Path | None = None
    # One run folder per Asterisk instance, as Asterisk sees it (inside asterisk_root).
    instance: str = "demo"
    bind: str = "127.0.0.1"
    # Where SIP and RTP listen and what they announce, when not `bind`: a node of a cluster
    # on several hosts takes calls on its private address (AMI, FastAGI and HTTP stay on
    # `bind`, the loopback, as its engine runs beside it).
    sip_address: str = ""
    ports: Ports = field(default_factory=Ports)
    db_url: str = ""
    rules: Path = PROJECT_HOME / "routing_rules"
    ami_user: str = "ivr"
    ami_secret: str = ""
    # The carrier's addresses: only INVITEs from these (addresses or CIDRs, comma-separated)
    # are trunk calls; anything else is challenged and refused by Asterisk. An address may
    # name its port too (127.0.0.1:5060): a node behind a SIP load balancer trusts only that
    # balancer's address and port.
    trunk_addresses: str = "127.0.0.2"
    # Operators' phones register with this SIP proxy (address:port, Kamailio in a cluster)
    # and Asterisk reaches them through it; empty: they register with Asterisk itself.
    operator_proxy: str = ""
    # The browser phones' SIP WebSocket at the cluster's proxy (ws://ADDRESS:PORT, Kamailio):
    # the console's relay connects there, and the proxy keeps their passwords; empty: this
    # node's own Asterisk (its HTTP server on the loopback).
    phone_proxy: str = ""
    # This Asterisk is one node of several sharing the database: its call ids start with
    # the instance name (Asterisk's systemname), and the engine that drives it judges, and
    # reconciles, only the calls of its own node.
    cluster_node: bool = False
    # The folder of what every engine of the center on this host shares: the operators'
    # SIP and console passwords, and the overrides; empty: the instance's own state folder.
    shared_dir: Path | None = None
    # FastAGI requests must carry this token (rendered into the dialplan); generated.
    agi_token: str = ""
    # The control API (/api/..., /campaigns/wake) and /metrics answer only requests bearing
    # this token (Authorization: Bearer); generated into the state folder's control.token.
    control_token: str = ""
    # Asterisk drops root for this user (and its group) when started as root.
    asterisk_user: str = "asterisk"
    # Calls Asterisk takes at once (its maxcalls); above it new INVITEs are refused. 0: no cap.
    max_calls: int = 200
    agi_read_timeout: float = 10.0
    # Seconds Asterisk gives the engine to route a call; past it (an engine that accepted
    # the FastAGI connection and went silent) the call goes to the failure context. The
    # engine extends it while a caller is in a menu.
    agi_deadline: int = 8
    ring_timeout: int = 20
    message_max_seconds: int = 120
    # How a call to an outside number (forwarding, escalation) leaves: through the trunk.
    outbound_dial: str = "PJSIP/{number}@trunk"
    # Escalation ladders: how often due steps are looked for, and how long an answered call
    # to a contact may last before the engine stops waiting for its outcome.
    escalation_tick: float = 1.0
    # Seconds a job's lease (escalations, purge, notices) outlives its engine's last renewal
    # on PostgreSQL: an engine that dies has its jobs taken over by another within it.
    lease_seconds: float = 6.0
    # A node of a cluster whose engine or Asterisk has been silent this long (no heartbeat)
    # has its open calls closed by another engine, as cut off when it was last known alive.
    node_down_seconds: float = 10.0
    # Asterisk's account of calls (the CEL file) is rotated past this size, or once its first
    # line is this old, by the reconciliation (so that it reads on from where it stopped).
    account_rotate_bytes: int = 50_000_000
    account_rotate_hours: float = 24.0
    escalation_call_max: int = 300
    # Rate limits on outbound calls: ladders started per caller number and per client in
    # any hour, and calls out through the trunk up at once (ladders, callbacks, forwards).
    escalation_per_caller_hour: int = 3
    escalation_per_client_hour: int = 10
    outbound_max_calls: int = 4
    # The daily purge of personal data past each client's retention (engine's local time).
    purge_at: str = "03:30"
    # Mail to the contacts when a ladder starts; no mail when smtp_host is empty.
    smtp_host: str = ""
    smtp_port: int = 25
    mail_from: str = "ivr@localhost"
    # The operator console: seconds an operator stays paused after a call while writing its
    # outcome (saving the form ends it sooner).
    wrapup_seconds: int = 60
    # An operator logged in whose console has been gone (no page open) this long is paused.
    console_gone_seconds: float = 180.0
    # Longest a caller stays on hold (the console's hold, or while being put through); past
    # it (the engine gone) the dialplan rings the fallback operators.
    hold_max_seconds: int = 300
    # Web sessions (console and client area), kept on the server: they end after this long
    # unused, and in any case this long after the login.
    web_idle_minutes: int = 30
    web_absolute_hours: int = 12
    # Cookies carry Secure when the page came over HTTPS ("auto"), or always ("always": the
    # engine is behind a TLS proxy), or never.
    web_secure_cookies: str = "auto"
    # Failed logins allowed within login_window_minutes to one user from one client address.
    login_max_per_user: int = 5
    login_window_minutes: int = 15
    # The reverse proxies (addresses or CIDRs, comma-separated) whose X-Forwarded-For and
    # X-Forwarded-Proto are believed: the client's address (throttling, logs) and HTTPS
    # (Secure cookies, HSTS). Empty: the headers are ignored, the peer is the client.
    web_trusted_proxies: str = ""
    # The client area's address as clients reach it, for the links in its emails; empty:
    # http://<bind>:<ports.http>/area.
    area_url: str = ""
    # Outbound campaigns (ivr/campaigns). Calling windows when a campaign file gives none, in
    # the contact's time zone, never on Sunday or a holiday ("HH:MM-HH:MM", commas between
    # ranges): promotion and appointments per the telemarketing code of conduct as commonly
    # reported, eve = a day before a holiday; reminders their own.
    campaign_hours_weekdays: str = "09:00-20:00"
    campaign_hours_saturday: str = "10:00-19:00"
    campaign_hours_eve: str = "10:00-19:00"
    reminder_hours_weekdays: str = "09:00-20:00"
    reminder_hours_saturday: str = "09:00-13:00"
    # Silent calls (the data-protection authority's 2014 rules): dropped calls stay at most
    # this share of the answered calls per campaign per day; a dropped number rests so many
    # days; an answered contact waits at most so many seconds for an operator (under 3).
    campaign_drop_cap: float = 0.03
    campaign_drop_rest_days: int = 5
    campaign_drop_wait: int = 2
    # A list checked against the opposition register longer ago than this is not dialled.
    campaign_register_max_days: int = 15
    # A client's own customer (a campaign with own_customers) is called without the register
    # check until so many days after the customer-until date of the contact's row.
    own_customers_days: int = 30
    # Billing per result (ivr/billing). Each month's verification sample: this share of a
    # client's appointments, at least verify_minimum (all when fewer), drawn once the month
    # is over and verify_grace_days have passed (by the engine when verify_auto_draw, or by
    # `ivr verify draw`). Statements are issued by the engine on this day of the next month
    # (0: only by hand, `ivr billing issue`).
    verify_share: float = 0.04
    verify_minimum: int = 3
    verify_grace_days: int = 2
    verify_auto_draw: bool = True
    billing_issue_day: int = 5
    # Webhooks (ivr/dispatch) go out over HTTPS to public addresses only. These exact IP
    # addresses (commas between them) are let through as well, HTTPS or plain HTTP: a
    # center's own receiver, or a test's on 127.0.0.x. Never a range.
    webhook_allow_addresses: str = ""
    # A PEM file of certificates trusted for webhooks besides the system's (a test receiver's).
    webhook_ca_file: str = ""
    # Seconds a webhook may take to connect and answer (at most 10 whatever is set).
    webhook_timeout: float = 5.0
    # The engine's clock starts at this ISO instant and runs on from there (tests, demos);
    # empty: the real time.
    clock_start: str = ""
    log_level: str = "INFO"

    # Paths as Asterisk sees them; host paths are derived with host_path().
    @property
    def run_dir(self) -> Path:
        return Path("/srv/ivr") / self.instance

    def host_path(self, as_path: Path) -> Path:
        """A path Asterisk sees, as the host sees it (through the chroot)."""
        if self.asterisk_root is None:
            return as_path
        return self.asterisk_root / as_path.relative_to("/")

    @property
    def host_run_dir(self) -> Path:
        return self.host_path(self.run_dir)

    @property
    def state_dir(self) -> Path:
        """The engine's own files (database, secrets) on the host."""
        return self.home / "var" / self.instance

    def own_call(self, linkedid: str) -> bool:
        """Is this call one of this engine's Asterisk? Every call on one Asterisk; on a node
        of a cluster, those whose id starts with the node's name (its systemname)."""
        return not self.cluster_node or linkedid.startswith(f"{self.instance}-")

    @property
    def shared_state(self) -> Path:
        """Where the center's shared secrets and overrides live on this host."""
        return self.shared_dir if self.shared_dir is not None else self.state_dir

    @property
    def agi_url(self) -> str:
        return f"agi://{self.bind}:{self.ports.agi}"


def _coerce(name: str, value: Any, target: Any) -> Any:
    try:
        if isinstance(target, bool):
            return str(value).lower() in {"1", "true", "yes", "on"}
        if isinstance(target, int):
            return int(value)
        if isinstance(target, float):
            return float(value)
        if isinstance(target, Path) or name in {"asterisk_root", "shared_dir"}:
            return Path(value) if value not in (None, "") else None
        return str(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"setting {name!r}: cannot read {value!r}: {exc}") from exc


def _apply(base: Any, values: dict[str, Any], prefix: str = "") -> Any:
    changes: dict[str, Any] = {}
    known = {f.name: f for f in dataclasses.fields(base)}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"unknown setting {prefix}{key!r}")
        current = getattr(base, key)
        if dataclasses.is_dataclass(current) and not isinstance(current, type):
            if not isinstance(value, dict):
                raise ConfigError(f"setting {prefix}{key!r} must be a table")
            changes[key] = _apply(current, value, f"{prefix}{key}.")
        else:
            changes[key] = _coerce(prefix + key, value, current)
    return dataclasses.replace(base, **changes)


def _env_values(environ: dict[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, value in environ.items():
        if not key.startswith("IVR_") or key in {"IVR_CONFIG"}:
            continue
        name = key[4:].lower()
        if name.startswith("port_"):
            values.setdefault("ports", {})[name[5:]] = value
        elif name in {f.name for f in dataclasses.fields(Settings)}:
            values[name] = value
    return values


def _secret(path: Path) -> str:
    """Read a generated secret, or make one (mode 0600) the first time."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(24)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value


def validate(settings: Settings) -> Settings:
    try:
        address = ipaddress.ip_address(settings.bind)
    except ValueError as exc:
        raise ConfigError(f"setting 'bind': {exc}") from exc
    if not address.is_loopback:
        raise ConfigError(f"setting 'bind': {settings.bind} is not a loopback address")
    if settings.sip_address:
        private_address(settings.sip_address, "sip_address")
    ports = dataclasses.asdict(settings.ports)
    for name, port in ports.items():
        if not 1 <= port <= 65535:
            raise ConfigError(f"setting 'ports.{name}': {port} is not a port number")
    if settings.ports.rtp_start > settings.ports.rtp_end:
        raise ConfigError("setting 'ports.rtp_start' is above 'ports.rtp_end'")
    if not settings.instance.replace("-", "").replace("_", "").isalnum():
        raise ConfigError(f"setting 'instance': {settings.instance!r} must be a plain name")
    if settings.web_secure_cookies not in {"auto", "always", "never"}:
        raise ConfigError(
            f"setting 'web_secure_cookies': {settings.web_secure_cookies!r} is auto, always "
            "or never"
        )
    try:
        from ivr.web.proxy import networks

        networks(settings.web_trusted_proxies)
    except ValueError as exc:
        raise ConfigError(f"setting 'web_trusted_proxies': {exc}") from exc
    if settings.login_max_per_user < 1 or settings.login_window_minutes < 1:
        raise ConfigError("settings 'login_max_per_user' and 'login_window_minutes': 1 or more")
    if not 0 <= settings.campaign_drop_cap <= 1:
        raise ConfigError("setting 'campaign_drop_cap': a share between 0 and 1 (0.03 is 3 %)")
    if not 0 < settings.campaign_drop_wait < 3:
        raise ConfigError("setting 'campaign_drop_wait': 1 or 2 seconds (the limit is 3)")
    if not 0 < settings.verify_share <= 1:
        raise ConfigError("setting 'verify_share': a share above 0, at most 1 (0.04 is 4 %)")
    if settings.verify_minimum < 0 or settings.verify_grace_days < 0:
        raise ConfigError("settings 'verify_minimum' and 'verify_grace_days': 0 or more")
    if not 0 <= settings.billing_issue_day <= 28:
        raise ConfigError("setting 'billing_issue_day': a day from 1 to 28 (0: by hand only)")
    if settings.clock_start:
        try:
            start = datetime.fromisoformat(settings.clock_start)
        except ValueError as exc:
            raise ConfigError(f"setting 'clock_start': {exc}") from exc
        if start.tzinfo is None:
            raise ConfigError("setting 'clock_start': give the offset (+01:00) or Z")
    if settings.account_rotate_bytes < 4096 or settings.account_rotate_hours <= 0:
        raise ConfigError(
            "settings 'account_rotate_bytes' (4096 or more) and 'account_rotate_hours' (above 0)"
        )
    if settings.node_down_seconds <= 0:
        raise ConfigError("setting 'node_down_seconds': a number of seconds above 0")
    if settings.log_level.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ConfigError(f"setting 'log_level': {settings.log_level!r} is not a level")
    trunk_networks(settings.trunk_addresses)
    for text in filter(None, (a.strip() for a in settings.webhook_allow_addresses.split(","))):
        try:
            ipaddress.ip_address(text)
        except ValueError as exc:
            raise ConfigError(
                f"setting 'webhook_allow_addresses': {exc} (one address each)"
            ) from exc
    if settings.webhook_timeout <= 0:
        raise ConfigError("setting 'webhook_timeout': seconds, more than 0")
    if settings.operator_proxy:
        sip_address(settings.operator_proxy, "operator_proxy")
    if settings.phone_proxy:
        if not settings.phone_proxy.startswith("ws://"):
            raise ConfigError("setting 'phone_proxy': ws://ADDRESS:PORT")
        sip_address(settings.phone_proxy.removeprefix("ws://"), "phone_proxy")
    if settings.control_token and len(settings.control_token) < 16:
        raise ConfigError("setting 'control_token': at least 16 characters")
    for name in ("ami_user", "ami_secret", "agi_token", "asterisk_user"):
        value = getattr(settings, name)
        if value and not _PLAIN.fullmatch(value):
            # These land in Asterisk's config files and in the dialplan's AGI URL.
            raise ConfigError(f"setting {name!r}: letters, digits, '_' and '-' only")
    for name in ("escalation_per_caller_hour", "escalation_per_client_hour", "outbound_max_calls"):
        if getattr(settings, name) < 0:
            raise ConfigError(f"setting {name!r}: 0 or more")
    if not re.fullmatch(r"([01][0-9]|2[0-3]):[0-5][0-9]", settings.purge_at):
        raise ConfigError(f"setting 'purge_at': {settings.purge_at!r} is not HH:MM")
    return settings


def private_address(text: str, setting: str) -> str:
    """A loopback or private address (never a public one), or ConfigError naming setting."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError as exc:
        raise ConfigError(f"setting {setting!r}: {exc}") from exc
    if not (address.is_loopback or address.is_private):
        raise ConfigError(f"setting {setting!r}: {text} is neither loopback nor private")
    return text


def sip_address(text: str, setting: str) -> tuple[str, int]:
    """'127.0.0.1:5060' or '[::1]:5060' -> (address, port), or ConfigError naming setting."""
    found = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d+)|([0-9.]+):(\d+)", text.strip())
    if found is None:
        raise ConfigError(f"setting {setting!r}: {text!r} is not ADDRESS:PORT")
    host, port = (found.group(1), found.group(2)) if found.group(1) else found.group(3, 4)
    try:
        ipaddress.ip_address(host)
    except ValueError as exc:
        raise ConfigError(f"setting {setting!r}: {exc}") from exc
    if not 1 <= int(port) <= 65535:
        raise ConfigError(f"setting {setting!r}: {port} is not a port number")
    return host, int(port)


def trunk_networks(text: str) -> list[str]:
    """The carrier's addresses and networks, each checked: '127.0.0.2, 10.0.0.0/24', or an
    address with its port ('127.0.0.1:16000': that sender alone, as Asterisk's identify
    matches it)."""
    found = [part for part in re.split(r"[\s,]+", text) if part]
    if not found:
        raise ConfigError("setting 'trunk_addresses': give at least one address")
    out = []
    for part in found:
        if part.count(":") == 1 or part.startswith("["):
            host, port = sip_address(part, "trunk_addresses")
            out.append(f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
            continue
        try:
            out.append(str(ipaddress.ip_network(part, strict=False)))
        except ValueError as exc:
            raise ConfigError(f"setting 'trunk_addresses': {exc}") from exc
    return out


def load(
    path: Path | None = None,
    environ: dict[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Defaults + TOML file + environment + explicit overrides, validated."""
    environ = dict(os.environ if environ is None else environ)
    settings = Settings()
    path = path or (Path(environ["IVR_CONFIG"]) if environ.get("IVR_CONFIG") else None)
    if path is not None:
        try:
            data = tomllib.loads(Path(path).read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{path}: {exc}") from exc
        settings = _apply(settings, data)
    settings = _apply(settings, _env_values(environ))
    settings = _apply(settings, {k: v for k, v in overrides.items() if v is not None})
    if settings.asterisk_root is None and "asterisk_root" not in overrides:
        from ivr.asterisk.provision import default_root

        settings = dataclasses.replace(settings, asterisk_root=default_root())
    if not settings.db_url:
        db = settings.state_dir / "ivr.db"
        settings = dataclasses.replace(settings, db_url=f"sqlite+aiosqlite:///{db}")
    if not settings.ami_secret:
        secret = _secret(settings.state_dir / "ami.secret")
        settings = dataclasses.replace(settings, ami_secret=secret)
    if not settings.agi_token:
        token = _secret(settings.state_dir / "agi.token")
        settings = dataclasses.replace(settings, agi_token=token)
    if not settings.control_token:
        token = _secret(settings.state_dir / "control.token")
        settings = dataclasses.replace(settings, control_token=token)
    return validate(settings)


def proxy_token(settings: Settings) -> str:
    """What the engines show the cluster's proxy to set and revoke browser phones' passwords
    (IVR_PROXY_TOKEN, or generated once into the shared folder, as the operators' passwords)."""
    env = os.environ.get("IVR_PROXY_TOKEN")
    if env:
        return env
    return _secret(settings.shared_state / "sip" / "proxy.token")


def operator_password(settings: Settings, operator: str) -> str:
    """Each operator's SIP password: generated once, kept out of the repo (mode 0600)."""
    env = os.environ.get(f"IVR_SIP_PASSWORD_{operator.upper()}")
    if env:
        return env
    return _secret(settings.shared_state / "sip" / f"{operator}.secret")
