"""Staff PINs and roles: add staff, log in, and check a manager PIN for privileged actions.

Wrong PINs are throttled per terminal: the first ``FREE_TRIES`` cost nothing, then each one doubles
the wait before the next try (1 s, 2 s, 4 s ... capped at ``MAX_WAIT_S``), and ``LOCK_AFTER`` in a row
lock the terminal until a manager unlocks it. Only a manager's PIN clears the count (a staff member's
own login does not, so a known staff PIN cannot be used to keep guessing the manager's); a quiet
``FORGET_AFTER_S`` without a wrong PIN forgets old typos. The state is stored, so a restart keeps it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import peewee

from truck_pos.clock import Clock
from truck_pos.errors import InvalidInput, NotAuthorized
from truck_pos.store import outbox
from truck_pos.store.models import LANGUAGES, ROLES, AuditLog, Staff
from truck_pos.store.staff_models import PinGuard

log = logging.getLogger(__name__)

# scrypt cost: ~10 ms on a Pi 4, so a stolen database does not give PINs away cheaply.
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}

FREE_TRIES = 2
LOCK_AFTER = 10
MAX_WAIT_S = 300
FORGET_AFTER_S = 15 * 60


class PinLocked(NotAuthorized):
    """Too many wrong PINs on this terminal: only a manager can unlock it."""


class PinWait(NotAuthorized):
    """A wrong PIN was typed just now: the next try must wait ``wait_s`` seconds."""

    def __init__(self, message: str, wait_s: int):
        super().__init__(message)
        self.wait_s = wait_s


def wait_after(failures: int) -> int:
    """Seconds to wait after ``failures`` wrong PINs in a row (0 for the first free tries)."""
    if failures <= FREE_TRIES:
        return 0
    return min(MAX_WAIT_S, 2 ** min(failures - FREE_TRIES - 1, 20))


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

    def __init__(self, db: peewee.Database, clock: Clock, terminal: str = "register"):
        self.db = db
        self.clock = clock
        self.terminal = terminal

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
        """The staff member with this PIN; a wrong PIN is audited, counted and refused.

        On a locked terminal only a manager's PIN is taken: it unlocks the terminal and logs the manager in.
        """
        guard = self._guard()
        if guard is not None and guard.locked:
            try:
                return self.unlock(pin)
            except PinWait as exc:
                raise PinLocked("Locked after too many wrong PINs on this register: ask a manager to unlock "
                                f"(wait {exc.wait_s} s)") from None
            except NotAuthorized:
                raise PinLocked("Locked after too many wrong PINs on this register: ask a manager to unlock") from None
        self._gate()
        row = self._find(pin)
        if row is None:
            self._failed("login_failed", {})
            raise NotAuthorized("Wrong PIN" + self._wait_note())
        if row.role == "manager":
            self._forget()
        return _member(row)

    def require_manager(self, pin: str, action: str) -> StaffMember:
        """The manager with this PIN, or NotAuthorized naming the action (wrong PINs are counted)."""
        self._gate()
        row = self._find(pin)
        if row is None or row.role != "manager":
            self._failed("manager_denied", {"action": action})
            raise NotAuthorized(f"{action.capitalize()} needs a manager PIN" + self._wait_note())
        self._forget()
        return _member(row)

    def unlock(self, manager_pin: str) -> StaffMember:
        """A manager lifts this terminal's lockout (the wait between tries still applies)."""
        self._gate(unlocking=True)
        row = self._find(manager_pin)
        if row is None or row.role != "manager":
            self._failed("unlock_denied", {})
            raise NotAuthorized("Unlocking needs a manager PIN" + self._wait_note())
        manager = _member(row)
        with self.db.atomic():
            self._forget()
            self.audit("pin_unlock", manager=manager, target=self.terminal)
        return manager

    def pin_status(self) -> str:
        """What the PIN pad should say before anyone types: "", "locked, ask a manager" or "wait N s"."""
        guard = self._guard()
        if guard is None:
            return ""
        if guard.locked:
            return "Locked after too many wrong PINs: ask a manager to unlock"
        wait = self._remaining(guard)
        return f"Too many wrong PINs: wait {wait} s" if wait else ""

    # --- wrong-PIN throttle --------------------------------------------------------------
    def _guard(self) -> PinGuard | None:
        return PinGuard.get_or_none(PinGuard.terminal == self.terminal)

    def _remaining(self, guard: PinGuard) -> int:
        if guard.last_failure_utc is None:
            return 0
        until = guard.last_failure_utc + timedelta(seconds=wait_after(guard.failures))
        return max(0, -int(-(until - self.clock.now()).total_seconds() // 1))

    def _gate(self, unlocking: bool = False) -> None:
        """Refuse before checking any PIN while the terminal is locked or inside its wait."""
        guard = self._guard()
        if guard is None:
            return
        if guard.locked and not unlocking:
            raise PinLocked("Locked after too many wrong PINs on this register: ask a manager to unlock")
        wait = self._remaining(guard)
        if wait:
            raise PinWait(f"Too many wrong PINs: wait {wait} s before the next try", wait)

    def _failed(self, action: str, details: dict[str, Any]) -> None:
        now = self.clock.now()
        with self.db.atomic():
            guard = self._guard() or PinGuard(terminal=self.terminal, failures=0)
            if guard.last_failure_utc is not None and not guard.locked and _older(guard.last_failure_utc, now, FORGET_AFTER_S):
                guard.failures = 0  # a typo an hour ago does not count against this one
            guard.failures += 1
            guard.last_failure_utc = now
            guard.locked = guard.locked or guard.failures >= LOCK_AFTER
            guard.save()
            self.audit(action, target=self.terminal, details={**details, "failures": guard.failures, "locked": guard.locked})

    def _wait_note(self) -> str:
        guard = self._guard()
        if guard is not None and guard.locked:
            return "; this register is now locked: ask a manager to unlock"
        wait = self._remaining(guard) if guard is not None else 0
        return f"; wait {wait} s before the next try" if wait else ""

    def _forget(self) -> None:
        PinGuard.delete().where(PinGuard.terminal == self.terminal).execute()

    def audit(self, action: str, *, staff: StaffMember | None = None, manager: StaffMember | None = None, target: str = "", details: dict[str, Any] | None = None) -> None:
        """Write an audit row and its outbox message in one transaction."""
        now = self.clock.now()
        details = details or {}
        with self.db.atomic():
            AuditLog.create(ts_utc=now, action=action, staff=staff.id if staff else None, manager=manager.id if manager else None, target=target, details=details)
            outbox.enqueue("audit", {"action": action, "staff": staff.name if staff else None, "manager": manager.name if manager else None, "target": target, "details": details, "ts": now.isoformat()}, now=now)
        log.info("audit %s target=%s staff=%s manager=%s", action, target, staff and staff.name, manager and manager.name)

    def list(self) -> list[StaffMember]:  # noqa: A003
        return [_member(r) for r in Staff.select().where(Staff.active == True).order_by(Staff.name)]  # noqa: E712


def _older(then: datetime, now: datetime, seconds: float) -> bool:
    return (now - then).total_seconds() > seconds
