"""Install signed campaign bundles (from a file or the MQTT ``campaign`` message) and keep the active one.

``install_bundle`` never raises on bad input: a refused bundle is logged and reported in the
result, and the previous campaign stays active. Thread-safety: the MQTT agent may call it from
its own thread; the active campaign and its code index are swapped as one reference.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import peewee
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from truck_pos.clock import Clock
from truck_pos.domain.bundle import BundleRefused, b64u_decode, verify_bundle
from truck_pos.domain.campaign import Campaign, parse_campaign
from truck_pos.domain.codes import CodeIndex
from truck_pos.errors import ConfigError
from truck_pos.store.campaign_models import CampaignBundle
from truck_pos.store.watch import ChangeWatch

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BundleResult:
    """What became of a bundle: accepted, or refused with a reason for the owner/staff."""

    accepted: bool
    reason: str
    campaign_id: str | None = None


def load_public_key(path: str | Path) -> Ed25519PublicKey:
    """Read the owner's public key: PEM, or one line of base64url raw key."""
    try:
        data = Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise ConfigError(f"campaign public key {path} cannot be read ({exc.strerror})") from exc
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            key = load_pem_public_key(data)
        else:
            key = Ed25519PublicKey.from_public_bytes(b64u_decode(data.decode("ascii").strip()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"campaign public key {path} is not an Ed25519 public key") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigError(f"campaign public key {path} is not an Ed25519 key")
    return key


def trusted_keys(path: str) -> list[Ed25519PublicKey]:
    """The configured owner key, or none (logged): the register still runs, bundles are refused with the reason."""
    if not path:
        return []
    try:
        return [load_public_key(path)]
    except ConfigError as exc:
        log.error("%s; campaign bundles will be refused until it is fixed", exc)
        return []


class CampaignService:
    """The active campaign and its code index; the single place bundles are verified."""

    def __init__(self, db: peewee.Database, clock: Clock, *, public_keys: list[Ed25519PublicKey], truck_id: str, timezone: str):
        self.db = db
        self.clock = clock
        self.public_keys = list(public_keys)
        self.truck_id = truck_id
        self.timezone = timezone
        self.on_installed: list[Callable[[dict[str, Any]], None]] = []
        self._active: tuple[Campaign, CodeIndex] | None = None
        self._lock = threading.RLock()  # re-entered: install_bundle reads active_campaign() under it
        # Another process (truck-pos-sync) installs bundles into the same file: re-read when the active row changes.
        self._watch = ChangeWatch(db, lambda: CampaignBundle.select(peewee.fn.MAX(CampaignBundle.id))
                                  .where(CampaignBundle.active == True).scalar())  # noqa: E712
        self._restore()
        self._watch.seen()

    @property
    def owner_key(self) -> Ed25519PublicKey | None:
        return self.public_keys[0] if self.public_keys else None

    def active_campaign(self) -> Campaign | None:
        """The campaign codes are checked against, or None."""
        self._refresh()
        active = self._active
        return active[0] if active else None

    def code_index(self) -> CodeIndex | None:
        """The active campaign's code index (one reference; safe to read from any thread)."""
        self._refresh()
        active = self._active
        return active[1] if active else None

    def install_bundle(self, raw: bytes, source: str = "file") -> BundleResult:
        """Verify, store and activate a bundle. Never raises on bad input."""
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        try:
            campaign = self._verify(raw)
        except BundleRefused as exc:
            log.warning("campaign bundle from %s refused: %s", source, exc)
            return BundleResult(False, str(exc), None)
        except Exception as exc:  # noqa: BLE001 - bad input must never crash the caller (MQTT thread)
            log.exception("campaign bundle from %s could not be read", source)
            return BundleResult(False, f"malformed bundle: {exc}", None)
        with self._lock:
            current = self.active_campaign()
            if current is not None and current.id == campaign.id:
                if campaign.issued_at_utc < current.issued_at_utc:
                    return BundleResult(False, f"older than the active version of {campaign.id} (issued "
                                        f"{campaign.issued_at_utc:%Y-%m-%d %H:%M} UTC)", campaign.id)
                if campaign.document == current.document:
                    return BundleResult(True, f"campaign {campaign.id} is already active", campaign.id)
            try:
                self._store(campaign, raw, source)
            except peewee.DatabaseError as exc:
                log.exception("campaign %s could not be stored", campaign.id)
                return BundleResult(False, f"could not store campaign {campaign.id} ({exc}); the previous one stays", campaign.id)
            self._active = (campaign, CodeIndex(campaign))
            self._watch.seen()
        log.info("campaign %s installed from %s", campaign.id, source)
        self._notify(campaign.document)
        return BundleResult(True, f"campaign {campaign.id} installed ({len(campaign.segments)} segments)", campaign.id)

    def _store(self, campaign: Campaign, raw: bytes, source: str) -> None:
        with self.db.atomic():
            CampaignBundle.update(active=False).where(CampaignBundle.active == True).execute()  # noqa: E712
            CampaignBundle.create(campaign_id=campaign.id, raw=bytes(raw), issued_utc=campaign.issued_at_utc,
                                  installed_utc=self.clock.now(), source=source, active=True)

    def _verify(self, raw: bytes) -> Campaign:
        document = verify_bundle(raw, self.public_keys)
        campaign = parse_campaign(document, self.timezone)
        if not campaign.for_truck(self.truck_id):
            raise BundleRefused(f"campaign {campaign.id} is for other trucks ({', '.join(campaign.trucks)})")
        return campaign

    def _notify(self, document: dict[str, Any]) -> None:
        for callback in list(self.on_installed):
            try:
                callback(document)
            except Exception:  # noqa: BLE001 - a listener's bug must not undo the install
                log.exception("campaign listener %r failed", callback)

    def _refresh(self) -> None:
        """Pick up a bundle another process activated since the last look (one PRAGMA when nothing changed)."""
        if self._watch.changed():
            with self._lock:
                self._restore()

    def _restore(self) -> None:
        """Re-activate the stored active bundle (verified again: the database is not trusted blindly)."""
        row = CampaignBundle.select().where(CampaignBundle.active == True).order_by(CampaignBundle.id.desc()).first()  # noqa: E712
        if row is None:
            return
        try:
            campaign = self._verify(bytes(row.raw))
        except BundleRefused as exc:
            log.error("stored campaign %s no longer verifies (%s); no campaign active", row.campaign_id, exc)
            return
        self._active = (campaign, CodeIndex(campaign))

    def proximity_window(self, when: datetime) -> tuple[str, datetime, datetime] | None:
        """(campaign id, start, end) of the active campaign's nearby_devices window containing ``when``, else None.

        The proximity service uses it so a phone raises one event per customer per campaign window.
        """
        campaign = self.active_campaign()
        if campaign is None:
            return None
        segment = campaign.segment("nearby_devices")
        start = segment.valid_from_utc if segment and segment.valid_from_utc else campaign.valid_from_utc
        end = segment.valid_until_utc if segment and segment.valid_until_utc else campaign.valid_until_utc
        return (campaign.id, start, end) if start <= when <= end else None

    def customer_offer(self) -> tuple[str, str]:
        """(offer text, registration URL) for the customer screen; the campaign document may set both."""
        campaign = self.active_campaign()
        if campaign is None:
            return ("Register at the window for offers from this truck.", "")
        doc = campaign.document
        text = str(doc.get("offer_text") or f"{campaign.name}: register today and get the registrants' offer.")
        return (text, str(doc.get("registration_url") or ""))

    def status_line(self) -> str:
        """One line for the status bar."""
        campaign = self.active_campaign()
        return f"campaign: {campaign.name}" if campaign else "campaign: none"
