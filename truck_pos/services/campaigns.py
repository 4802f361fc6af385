"""Install signed campaign bundles (from a file or the MQTT ``campaign`` message); hold live and upcoming ones.

``install_bundle`` never raises on bad input: a refused bundle is logged and reported in the
result with a plain reason, and the held campaigns stay. Thread-safety: the MQTT agent may call it
from its own thread; the live campaign and its code index are swapped as one reference.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import peewee

from sync import protocol
from truck_pos.clock import Clock
from truck_pos.domain.bundle import BundleRefused, OpenedBundle, b64u_decode, open_bundle
from truck_pos.domain.calendar import local
from truck_pos.domain.campaign import Campaign, parse_campaign
from truck_pos.domain.codes import CodeIndex
from truck_pos.domain.ed25519 import VerifyKey
from truck_pos.errors import ConfigError
from truck_pos.store.campaign_models import CampaignBundle, CampaignKeyVersion
from truck_pos.store.watch import ChangeWatch

if TYPE_CHECKING:  # the truck's own keys are VerifyKeys (libsodium); tests and tools may pass cryptography's
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BundleResult:
    """What became of a bundle: accepted, or refused with a reason for the owner/staff."""

    accepted: bool
    reason: str
    campaign_id: str | None = None


def load_public_key(path: str | Path) -> VerifyKey:
    """Read the owner's public key: PEM (an Ed25519 ``PUBLIC KEY``), or one line of base64url raw key."""
    try:
        data = Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise ConfigError(f"campaign public key {path} cannot be read ({exc.strerror})") from exc
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return VerifyKey.from_pem(data)
        return VerifyKey(b64u_decode(data.decode("ascii").strip()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"campaign public key {path} is not an Ed25519 public key") from exc


def trusted_keys(path: str) -> list[VerifyKey]:
    """The configured owner key, or none (logged): the register still runs, bundles are refused with the reason."""
    if not path:
        return []
    try:
        return [load_public_key(path)]
    except ConfigError as exc:
        log.error("%s; campaign bundles will be refused until it is fixed", exc)
        return []


def select_live(held: list[Campaign], now: datetime) -> Campaign | None:
    """The live campaign: of those whose window holds ``now``, the one that started last (then the highest version),
    so tomorrow's campaign takes over from a week-long one when it starts; else the last that started, so refusals
    say "expired at ..."."""
    in_window = [c for c in held if c.valid_from_utc <= now <= c.valid_until_utc]
    if in_window:
        return max(in_window, key=lambda c: (c.valid_from_utc, c.version))
    started = [c for c in held if c.valid_from_utc <= now]
    return max(started, key=lambda c: (c.valid_until_utc, c.version)) if started else None


def contract_problem(campaign: Campaign) -> str:
    """Why a redemption of this campaign would break the sync contract (sync/protocol.py), or ""."""
    for seg in campaign.segments:
        body = {"redemption_id": "r", "order_id": "o", "campaign_id": campaign.id, "segment": seg.name, "channel": seg.channel,
                "kind": "segment", "code": seg.code or "c", "customer_ref": None, "amount_cents": 0,
                "redeemed_at": "2026-01-01T00:00:00+00:00"}
        problem = protocol.body_problem("redemption", body)
        if problem:
            return f"segment {seg.name[:64]!r} would send redemptions the hub refuses ({problem})"
    return ""


class CampaignService:
    """The held campaigns (live and upcoming), the live one's code index; the single place bundles are verified.

    Lifecycle: a bundle is refused when it has expired, when its version is not above the highest
    version seen for its signing key (any campaign id), or when it repeats that version with other
    content. An accepted bundle is held; the live campaign is, at each read, the one whose window
    contains now that started last (see :func:`select_live`).
    Reads re-check SQLite's ``data_version`` so a bundle the sync process installed is seen at once.
    """

    def __init__(self, db: peewee.Database, clock: Clock, *, public_keys: list[VerifyKey | Ed25519PublicKey], truck_id: str,
                 timezone: str, day_start_hour: int = 4):
        self.db = db
        self.clock = clock
        self.public_keys = list(public_keys)
        self.truck_id = truck_id
        self.timezone = timezone
        self.day_start_hour = day_start_hour
        self.on_installed: list[Callable[[dict[str, Any]], None]] = []  # each newly held bundle's document, once
        self._held: dict[int, Campaign] = {}  # CampaignBundle row id -> verified campaign
        self._unusable: set[int] = set()  # held rows that no longer verify
        self._active: tuple[Campaign, CodeIndex] | None = None
        self._watch = ChangeWatch(db)  # the sync process installs bundles into the same file
        self._lock = threading.RLock()
        self._reload(notify=False)

    @property
    def owner_key(self) -> VerifyKey | Ed25519PublicKey | None:
        return self.public_keys[0] if self.public_keys else None

    # --- reads ----------------------------------------------------------------------------
    def active_campaign(self) -> Campaign | None:
        """The campaign codes are checked against now, or None."""
        active = self._current()
        return active[0] if active else None

    def code_index(self) -> CodeIndex | None:
        """The live campaign's code index (one reference; safe to read from any thread)."""
        active = self._current()
        return active[1] if active else None

    def upcoming(self) -> list[Campaign]:
        """Held campaigns that have not started yet, soonest first."""
        self._refresh_if_changed()
        now = self.clock.now()
        return sorted((c for c in self._held.values() if c.valid_from_utc > now), key=lambda c: (c.valid_from_utc, -c.version))

    def _current(self) -> tuple[Campaign, CodeIndex] | None:
        self._refresh_if_changed()
        chosen = select_live(list(self._held.values()), self.clock.now())
        active = self._active
        if (chosen is None) != (active is None) or (chosen is not None and active is not None and chosen is not active[0]):
            with self._lock:
                self._active = (chosen, CodeIndex(chosen)) if chosen is not None else None
                active = self._active
            if chosen is not None:
                log.info("campaign %s version %d is now live", chosen.id, chosen.version)
        return active

    def _refresh_if_changed(self) -> None:
        """Reload the held bundles when another connection (the sync process) committed since the last look."""
        if self._watch.changed():
            self._reload()

    def _reload(self, notify: bool = True) -> None:
        """Load the held (live and upcoming) bundles; rows already verified are not verified again."""
        rows = list(CampaignBundle.select(CampaignBundle.id).where(CampaignBundle.active == True).tuples())  # noqa: E712
        ids = {row_id for (row_id,) in rows}
        if ids == set(self._held) | (self._unusable & ids):
            return
        held = {i: c for i, c in self._held.items() if i in ids}
        for row in CampaignBundle.select().where(CampaignBundle.id.in_(sorted(ids - set(held) - self._unusable))):
            try:
                held[row.id] = self._verify(bytes(row.raw))[0]
            except BundleRefused as exc:
                self._unusable.add(row.id)  # e.g. the owner key changed: say so once, not at every reload
                log.error("stored campaign %s no longer verifies (%s); it is not used", row.campaign_id, exc)
        fresh = [c for i, c in held.items() if i not in self._held]
        with self._lock:
            self._held = held
            if not notify:
                chosen = select_live(list(held.values()), self.clock.now())
                self._active = (chosen, CodeIndex(chosen)) if chosen is not None else None
        for campaign in fresh if notify else ():  # installed by another process: listeners here hear of it too
            self._notify(campaign.document)

    # --- install ----------------------------------------------------------------------------
    def install_bundle(self, raw: bytes, source: str = "file") -> BundleResult:
        """Verify, check the lifecycle rules, store and hold a bundle. Never raises on bad input."""
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        try:
            campaign, opened = self._verify(raw)
        except BundleRefused as exc:
            log.warning("campaign bundle from %s refused: %s", source, exc)
            return BundleResult(False, str(exc), None)
        except Exception as exc:  # noqa: BLE001 - bad input must never crash the caller (MQTT thread)
            log.exception("campaign bundle from %s could not be read", source)
            return BundleResult(False, f"malformed bundle: {type(exc).__name__}", None)
        now = self.clock.now()
        if campaign.valid_until_utc < now:
            return self._refused(campaign, source, f"expired: campaign {campaign.id} ended {self._local(campaign.valid_until_utc)}")
        try:
            with self._lock, self.db.atomic():
                mark = CampaignKeyVersion.get_or_none(CampaignKeyVersion.key_id == opened.key_id)
                if mark is not None and campaign.version == mark.version and opened.digest == mark.digest:
                    return BundleResult(True, f"campaign {campaign.id} version {campaign.version} is already installed", campaign.id)
                if mark is not None and campaign.version == mark.version:
                    return self._refused(campaign, source, f"same version {campaign.version} as the bundle already installed "
                                         "but different content (the owner must sign it with a higher version)")
                if mark is not None and campaign.version < mark.version:
                    return self._refused(campaign, source, f"older than seen: version {campaign.version} is below version "
                                         f"{mark.version} (campaign {mark.campaign_id}) already installed from this key")
                row_id = self._store(campaign, opened, raw, source, now)
        except peewee.DatabaseError as exc:
            log.exception("campaign %s could not be stored", campaign.id)
            return BundleResult(False, f"could not store campaign {campaign.id} ({exc}); the previous one stays", campaign.id)
        with self._lock:
            self._held = {i: c for i, c in self._held.items() if c.id != campaign.id} | {row_id: campaign}
        log.info("campaign %s version %d installed from %s", campaign.id, campaign.version, source)
        self._notify(campaign.document)
        live = self.active_campaign()
        if campaign.valid_from_utc > now:
            return BundleResult(True, f"campaign {campaign.id} version {campaign.version} stored; it starts "
                                f"{self._local(campaign.valid_from_utc)}", campaign.id)
        if live is not campaign:
            return BundleResult(True, f"campaign {campaign.id} version {campaign.version} stored; "
                                f"{live.id if live else 'another campaign'} stays live (higher version)", campaign.id)
        return BundleResult(True, f"campaign {campaign.id} installed ({len(campaign.segments)} segments)", campaign.id)

    def _refused(self, campaign: Campaign, source: str, reason: str) -> BundleResult:
        log.warning("campaign bundle %s from %s refused: %s", campaign.id, source, reason)
        return BundleResult(False, reason, campaign.id)

    def _local(self, moment: datetime) -> str:
        return f"{local(moment, self.timezone):%Y-%m-%d %H:%M} ({self.timezone})"

    def _store(self, campaign: Campaign, opened: OpenedBundle, raw: bytes, source: str, now: datetime) -> int:
        """Inside the caller's transaction: hold the bundle, drop what it supersedes, raise the high-water mark."""
        held = CampaignBundle.select().where(CampaignBundle.active == True)  # noqa: E712
        superseded = [r.id for r in held if r.campaign_id == campaign.id or
                      (r.id in self._held and self._held[r.id].valid_until_utc < now)]
        if superseded:
            CampaignBundle.update(active=False).where(CampaignBundle.id.in_(superseded)).execute()
        row = CampaignBundle.create(campaign_id=campaign.id, raw=bytes(raw), issued_utc=campaign.issued_at_utc,
                                    installed_utc=now, source=source, active=True)
        CampaignKeyVersion.insert(key_id=opened.key_id, version=campaign.version, digest=opened.digest,
                                  campaign_id=campaign.id, updated_utc=now).on_conflict_replace().execute()
        return row.id

    def _verify(self, raw: bytes) -> tuple[Campaign, OpenedBundle]:
        opened = open_bundle(raw, self.public_keys)
        campaign = parse_campaign(opened.document, self.timezone, self.day_start_hour)
        if not campaign.for_truck(self.truck_id):
            raise BundleRefused(f"campaign {campaign.id} is for other trucks ({', '.join(campaign.trucks)})")
        problem = contract_problem(campaign)
        if problem:
            raise BundleRefused(f"invalid campaign: {problem}")
        return campaign, opened

    def _notify(self, document: dict[str, Any]) -> None:
        for callback in list(self.on_installed):
            try:
                callback(document)
            except Exception:  # noqa: BLE001 - a listener's bug must not undo the install
                log.exception("campaign listener %r failed", callback)

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
