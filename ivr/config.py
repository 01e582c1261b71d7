"""Settings: defaults, then an optional TOML file, then IVR_* environment variables.

Everything is validated into one frozen object at start-up; a bad value fails fast with the
name of the setting that is wrong.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import secrets
import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

PROJECT_HOME = Path(__file__).resolve().parent.parent


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


@dataclass(frozen=True)
class Settings:
    """The engine's whole configuration."""

    home: Path = PROJECT_HOME
    # Where Asterisk lives: a chroot folder holding /usr/sbin/asterisk, or None for the host's.
    asterisk_root: Path | None = None
    # One run folder per Asterisk instance, as Asterisk sees it (inside asterisk_root).
    instance: str = "demo"
    bind: str = "127.0.0.1"
    ports: Ports = field(default_factory=Ports)
    db_url: str = ""
    rules: Path = PROJECT_HOME / "routing_rules"
    ami_user: str = "ivr"
    ami_secret: str = ""
    agi_read_timeout: float = 10.0
    ring_timeout: int = 20
    message_max_seconds: int = 120
    # How a call to an outside number (forwarding, escalation) leaves: through the trunk.
    outbound_dial: str = "PJSIP/{number}@trunk"
    # Escalation ladders: how often due steps are looked for, and how long an answered call
    # to a contact may last before the engine stops waiting for its outcome.
    escalation_tick: float = 1.0
    escalation_call_max: int = 300
    # Mail to the contacts when a ladder starts; no mail when smtp_host is empty.
    smtp_host: str = ""
    smtp_port: int = 25
    mail_from: str = "ivr@localhost"
    # The operator console: seconds an operator stays paused after a call while writing its
    # outcome (saving the form ends it sooner).
    wrapup_seconds: int = 60
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
        if isinstance(target, Path) or name in {"asterisk_root"}:
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
    ports = dataclasses.asdict(settings.ports)
    for name, port in ports.items():
        if not 1 <= port <= 65535:
            raise ConfigError(f"setting 'ports.{name}': {port} is not a port number")
    if settings.ports.rtp_start > settings.ports.rtp_end:
        raise ConfigError("setting 'ports.rtp_start' is above 'ports.rtp_end'")
    if not settings.instance.replace("-", "").replace("_", "").isalnum():
        raise ConfigError(f"setting 'instance': {settings.instance!r} must be a plain name")
    if not 0 <= settings.campaign_drop_cap <= 1:
        raise ConfigError("setting 'campaign_drop_cap': a share between 0 and 1 (0.03 is 3 %)")
    if not 0 < settings.campaign_drop_wait < 3:
        raise ConfigError("setting 'campaign_drop_wait': 1 or 2 seconds (the limit is 3)")
    if settings.clock_start:
        try:
            start = datetime.fromisoformat(settings.clock_start)
        except ValueError as exc:
            raise ConfigError(f"setting 'clock_start': {exc}") from exc
        if start.tzinfo is None:
            raise ConfigError("setting 'clock_start': give the offset (+01:00) or Z")
    if settings.log_level.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ConfigError(f"setting 'log_level': {settings.log_level!r} is not a level")
    return settings


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
    return validate(settings)


def operator_password(settings: Settings, operator: str) -> str:
    """Each operator's SIP password: generated once, kept out of the repo (mode 0600)."""
    env = os.environ.get(f"IVR_SIP_PASSWORD_{operator.upper()}")
    if env:
        return env
    return _secret(settings.state_dir / "sip" / f"{operator}.secret")
