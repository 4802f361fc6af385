"""Staff PINs and roles: add staff, log in, and check a manager PIN for privileged actions."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from dataclasses import dataclass
from typing import Any

import peewee

from truck_pos.clock import Clock
from truck_pos.errors import InvalidInput, NotAuthorized
from truck_pos.store import outbox
from truck_pos.store.models import LANGUAGES, ROLES, AuditLog, Staff

log = logging.getLogger(__name__)

# scrypt cost: ~10 ms on a Pi 4, so a stolen database does not give PINs away cheaply.
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}


def hash_pin(pin: str, salt: bytes) -> bytes:
    """The stored form of a PIN."""
    return hashlib.scrypt(pin.encode(), salt=salt, **_SCRYPT)


@dataclass(frozen=True)
class StaffMember:
    """Who is logged in."""

    id: int
    name: str
    role: str
    language: str = "en"  # the register's language while this person is logged in

    @property
    def is_manager(self) -> bool:
        return self.role == "manager"


def _member(row: Staff) -> StaffMember:
    return StaffMember(row.id, row.name, row.role, row.language or "en")


class StaffService:
    """PIN checks and the audit trail of privileged actions."""

    def __init__(self, db: peewee.Database, clock: Clock):
        self.db = db
        self.clock = clock

    def add(self, name: str, pin: str, role: str = "staff", language: str = "en") -> StaffMember:
        """Create a staff member. PINs are 4-8 digits and unique among active staff."""
        if language not in LANGUAGES:
            raise InvalidInput(f"Language must be one of {', '.join(LANGUAGES)}")
        if role not in ROLES:
            raise InvalidInput(f"Role must be one of {', '.join(ROLES)}")
        if not (pin.isdigit() and 4 <= len(pin) <= 8):
            raise InvalidInput("A PIN is 4 to 8 digits")
        if not name.strip():
            raise InvalidInput("A staff member needs a name")
        if self._find(pin) is not None:
            raise InvalidInput("That PIN is already used by someone else")
        salt = os.urandom(16)
        with self.db.atomic():
            if Staff.select().where(Staff.name == name.strip()).exists():
                raise InvalidInput(f"There is already a staff member called {name.strip()}")
            row = Staff.create(name=name.strip(), role=role, pin_salt=salt, pin_hash=hash_pin(pin, salt), created_utc=self.clock.now(),
                               language=language)
        return _member(row)

    def _find(self, pin: str) -> Staff | None:
        for row in Staff.select().where(Staff.active == True):  # noqa: E712 (peewee expression)
            if hmac.compare_digest(bytes(row.pin_hash), hash_pin(pin, bytes(row.pin_salt))):
                return row
        return None

    def login(self, pin: str) -> StaffMember:
        """The staff member with this PIN; a wrong PIN is audited and refused."""
        row = self._find(pin)
        if row is None:
            self.audit("login_failed", details={})
            raise NotAuthorized("Wrong PIN")
        return _member(row)

    def require_manager(self, pin: str, action: str) -> StaffMember:
        """The manager with this PIN, or NotAuthorized naming the action."""
        row = self._find(pin)
        if row is None or row.role != "manager":
            self.audit("manager_denied", details={"action": action})
            raise NotAuthorized(f"{action.capitalize()} needs a manager PIN")
        return _member(row)

    def audit(self, action: str, *, staff: StaffMember | None = None, manager: StaffMember | None = None, target: str = "", details: dict[str, Any] | None = None) -> None:
        """Write an audit row and its outbox message in one transaction."""
        now = self.clock.now()
        details = details or {}
        with self.db.atomic():
            AuditLog.create(ts_utc=now, action=action, staff=staff.id if staff else None, manager=manager.id if manager else None, target=target, details=details)
            outbox.enqueue("audit", {"action": action, "staff": staff.name if staff else None, "manager": manager.name if manager else None, "target": target, "details": details, "ts": now.isoformat()}, now=now)
        log.info("audit %s target=%s staff=%s manager=%s", action, target, staff and staff.name, manager and manager.name)

    def list(self) -> list[StaffMember]:
        return [_member(r) for r in Staff.select().where(Staff.active == True).order_by(Staff.name)]  # noqa: E712
