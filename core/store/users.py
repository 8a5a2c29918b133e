"""Console users and their server-side sessions.

A user has a name, a role and a password hash (the hash only: see
:mod:`dunning.core.api.console.passwords`). A session is a row keyed by the
digest of the random id its cookie carries, with the CSRF token its forms
must send back and an expiry; disabling a user ends their sessions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, select, update

from dunning.core.errors import InputError
from dunning.core.store.base import StoreBase
from dunning.core.store.schema import sessions, users

__all__ = ["SessionRow", "UserRow", "UsersMixin"]


@dataclass(frozen=True)
class UserRow:
    name: str
    role: str
    password_hash: str
    disabled: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class SessionRow:
    """A live session and the user it belongs to."""

    user: UserRow
    csrf: str
    expires_at: datetime


class UsersMixin(StoreBase):
    """Users and sessions."""

    def add_user(self, conn: Connection, name: str, role: str, password_hash: str, now: datetime) -> None:
        if self.user(conn, name) is not None:
            raise InputError(f"a user {name!r} already exists", field="name")
        conn.execute(
            users.insert().values(
                name=name,
                role=role,
                password_hash=password_hash,
                disabled=False,
                created_at=now,
                updated_at=now,
            )
        )

    def user(self, conn: Connection, name: str) -> UserRow | None:
        row = conn.execute(select(users).where(users.c.name == name)).first()
        return UserRow(**row._mapping) if row is not None else None

    def list_users(self, conn: Connection) -> list[UserRow]:
        return [UserRow(**row._mapping) for row in conn.execute(select(users).order_by(users.c.name))]

    def update_user(self, conn: Connection, name: str, now: datetime, **values: object) -> None:
        """Change a user's role, password hash or disabled flag; a disabled user's sessions end."""
        done = conn.execute(update(users).where(users.c.name == name).values(updated_at=now, **values))
        if not done.rowcount:
            raise InputError(f"no user {name!r}", field="name")
        if values.get("disabled") or "password_hash" in values:
            conn.execute(delete(sessions).where(sessions.c.user_name == name))

    def create_session(
        self, conn: Connection, key: str, user_name: str, csrf: str, now: datetime, expires_at: datetime
    ) -> None:
        conn.execute(delete(sessions).where(sessions.c.expires_at <= now))  # sweep the expired ones
        conn.execute(
            sessions.insert().values(
                key=key, user_name=user_name, csrf=csrf, created_at=now, expires_at=expires_at
            )
        )

    def session(self, conn: Connection, key: str, now: datetime) -> SessionRow | None:
        """The live session under ``key`` of an enabled user, or None."""
        row = conn.execute(
            select(sessions.c.csrf, sessions.c.expires_at, users)
            .select_from(sessions.join(users, users.c.name == sessions.c.user_name))
            .where(sessions.c.key == key, sessions.c.expires_at > now, users.c.disabled.is_(False))
        ).first()
        if row is None:
            return None
        m = dict(row._mapping)
        csrf, expires_at = m.pop("csrf"), m.pop("expires_at")
        return SessionRow(UserRow(**m), csrf, expires_at)

    def end_session(self, conn: Connection, key: str) -> None:
        conn.execute(delete(sessions).where(sessions.c.key == key))
