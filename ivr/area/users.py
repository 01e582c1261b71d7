"""The client area's accounts: Argon2id password hashes (argon2-cffi), an optional TOTP second
factor (pyotp), and single-use, expiring password-reset tokens. Storage only: no HTTP here."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr.area.models import NOTIFY, ROLES, AreaUser, ResetToken

Sessions = async_sessionmaker[AsyncSession]
HASHER = PasswordHasher()  # Argon2id with the library's current recommended parameters
RESET_LIFETIME = timedelta(hours=1)
PASSWORD_MIN = 10
_EMAIL = re.compile(r"^[^@\s<>\"',;]{1,64}@[A-Za-z0-9.-]{1,190}\.[A-Za-z]{2,}$")
# Verified against when the email is unknown, so both answers take as long.
_DUMMY = HASHER.hash("no such user: this hash is never matched")


class AccountError(ValueError):
    """A user that cannot be added or changed; the message says why."""


@dataclass(frozen=True)
class User:
    id: int
    client_id: str
    email: str
    name: str
    role: str
    totp_on: bool
    language: str
    notify: str
    digest_at: str
    digest_sent_at: datetime | None

    @property
    def admin(self) -> bool:
        return self.role == "admin"

    @classmethod
    def of(cls, row: AreaUser) -> User:
        return cls(
            row.id,
            row.client_id,
            row.email,
            row.name,
            row.role,
            row.totp_on,
            row.language,
            row.notify,
            row.digest_at,
            row.digest_sent_at,
        )


def normal_email(email: str) -> str:
    email = email.strip().lower()
    if not _EMAIL.match(email):
        raise AccountError(f"not an email address: {email!r}")
    return email


def new_password() -> str:
    return secrets.token_urlsafe(12)


def password_problem(password: str) -> str | None:
    if len(password) < PASSWORD_MIN:
        return "short"
    return None


async def add_user(
    sessions: Sessions,
    client_id: str,
    email: str,
    password: str,
    now: datetime,
    *,
    role: str = "member",
    name: str = "",
    language: str = "it",
) -> User:
    if role not in ROLES:
        raise AccountError(f"role {role!r}: one of {', '.join(ROLES)}")
    email = normal_email(email)
    row = AreaUser(
        client_id=client_id,
        email=email,
        name=name.strip()[:255] or email.split("@", 1)[0],
        role=role,
        password_hash=HASHER.hash(password),
        totp_secret=None,
        totp_on=False,
        language=language if language in ("it", "en") else "it",
        notify="each",
        digest_at="18:00",
        created_at=now,
    )
    try:
        async with sessions.begin() as session:
            session.add(row)
    except IntegrityError as exc:
        raise AccountError(f"{email} already has an account") from exc
    return User.of(row)


async def get(sessions: Sessions, user_id: int) -> User | None:
    async with sessions() as session:
        row = await session.get(AreaUser, user_id)
        return None if row is None else User.of(row)


async def by_email(sessions: Sessions, email: str) -> User | None:
    async with sessions() as session:
        row = await session.scalar(select(AreaUser).where(AreaUser.email == email.strip().lower()))
        return None if row is None else User.of(row)


async def of_client(sessions: Sessions, client_id: str) -> list[User]:
    async with sessions() as session:
        rows = await session.scalars(
            select(AreaUser).where(AreaUser.client_id == client_id).order_by(AreaUser.email)
        )
        return [User.of(r) for r in rows]


async def all_users(sessions: Sessions) -> list[User]:
    async with sessions() as session:
        rows = await session.scalars(select(AreaUser).order_by(AreaUser.client_id, AreaUser.email))
        return [User.of(r) for r in rows]


async def check_password(sessions: Sessions, email: str, password: str) -> User | None:
    """The user if the password is right; an unknown email costs the same time."""
    async with sessions.begin() as session:
        row = await session.scalar(select(AreaUser).where(AreaUser.email == email.strip().lower()))
        try:
            HASHER.verify(row.password_hash if row else _DUMMY, password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None:
            return None
        if HASHER.check_needs_rehash(row.password_hash):  # parameters raised since
            row.password_hash = HASHER.hash(password)
        return User.of(row)


async def set_password(sessions: Sessions, user_id: int, password: str) -> None:
    async with sessions.begin() as session:
        await session.execute(
            update(AreaUser)
            .where(AreaUser.id == user_id)
            .values(password_hash=HASHER.hash(password))
        )


async def remove(sessions: Sessions, user_id: int) -> None:
    async with sessions.begin() as session:
        await session.execute(delete(ResetToken).where(ResetToken.user_id == user_id))
        await session.execute(delete(AreaUser).where(AreaUser.id == user_id))


async def set_prefs(
    sessions: Sessions, user_id: int, *, language: str, notify: str, digest_at: str
) -> None:
    if notify not in NOTIFY:
        raise AccountError(f"notify: one of {', '.join(NOTIFY)}")
    async with sessions.begin() as session:
        await session.execute(
            update(AreaUser)
            .where(AreaUser.id == user_id)
            .values(language=language, notify=notify, digest_at=digest_at)
        )


async def digest_sent(sessions: Sessions, user_id: int, at: datetime) -> None:
    async with sessions.begin() as session:
        await session.execute(
            update(AreaUser).where(AreaUser.id == user_id).values(digest_sent_at=at)
        )


async def digest_moved(
    sessions: Sessions, user_id: int, expected: datetime | None, new: datetime
) -> bool:
    """Move the user's last digest from expected to new (compare-and-set): of several
    engines due to send the same digest, the one for which this is True sends it."""
    last = AreaUser.digest_sent_at
    async with sessions.begin() as session:
        result: Any = await session.execute(
            update(AreaUser)
            .where(AreaUser.id == user_id, last.is_(None) if expected is None else last == expected)
            .values(digest_sent_at=new)
        )
    return bool(result.rowcount == 1)


# -- the second factor ----------------------------------------------------------------------


async def totp_secret(sessions: Sessions, user_id: int) -> str:
    """The secret being enrolled (made once, kept until the user confirms a code)."""
    async with sessions.begin() as session:
        row = await session.get(AreaUser, user_id)
        if row is None:
            raise AccountError("no such user")
        if not row.totp_secret:
            row.totp_secret = pyotp.random_base32()
        return row.totp_secret


def totp_uri(secret: str, email: str, issuer: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=issuer)


async def totp_verify(sessions: Sessions, user_id: int, code: str, now: datetime) -> bool:
    """The code of now (or of the step before or after: a phone's clock drifts), and not a
    code already used: a code seen over a shoulder or in a log cannot log in again."""
    async with sessions() as session:
        row = await session.get(AreaUser, user_id)
    if row is None or not row.totp_secret:
        return False
    code = re.sub(r"\s", "", code)
    if not re.fullmatch(r"[0-9]{6}", code):  # compare_digest takes ASCII text only
        return False
    totp = pyotp.TOTP(row.totp_secret)
    current = totp.timecode(now)
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(code, totp.generate_otp(step)):
            async with sessions.begin() as session:
                used = AreaUser.totp_step
                result: Any = await session.execute(
                    update(AreaUser)
                    .where(AreaUser.id == user_id, used.is_(None) | (used < step))
                    .values(totp_step=step)
                )
            return bool(result.rowcount == 1)
    return False


async def totp_enable(sessions: Sessions, user_id: int, on: bool) -> None:
    async with sessions.begin() as session:
        row = await session.get(AreaUser, user_id)
        if row is not None:
            row.totp_on = on
            if not on:
                row.totp_secret = None


# -- password reset -----------------------------------------------------------------------


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def reset_token(sessions: Sessions, user_id: int, now: datetime) -> str:
    token = secrets.token_urlsafe(32)
    async with sessions.begin() as session:
        session.add(
            ResetToken(
                id=_digest(token),
                user_id=user_id,
                created_at=now,
                expires_at=now + RESET_LIFETIME,
                used_at=None,
            )
        )
    return token


async def reset_user(sessions: Sessions, token: str, now: datetime) -> User | None:
    """The user a reset link is for, while it is unused and unexpired."""
    async with sessions() as session:
        row = await session.get(ResetToken, _digest(token))
        if row is None or row.used_at is not None or row.expires_at <= now:
            return None
        user = await session.get(AreaUser, row.user_id)
        return None if user is None else User.of(user)


async def use_reset(sessions: Sessions, token: str, password: str, now: datetime) -> User | None:
    """Set the password through a reset link, once; None if the link is used or expired."""
    async with sessions.begin() as session:
        row = await session.get(ResetToken, _digest(token), with_for_update=True)
        if row is None or row.used_at is not None or row.expires_at <= now:
            return None
        user = await session.get(AreaUser, row.user_id)
        if user is None:
            return None
        row.used_at = now
        user.password_hash = HASHER.hash(password)
        return User.of(user)
