"""Helpers for the campaign/code tests: a fresh owner key (never committed), bundles, wired services."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from truck_pos.bootstrap import Services, build
from truck_pos.config import load_settings
from truck_pos.domain.bundle import sign_bundle

DATA = Path(__file__).resolve().parent / "data" / "campaigns"


def demo_document(**changes: Any) -> dict[str, Any]:
    """The committed demo campaign (Chicago, 2026-06-01..07), with top-level changes."""
    doc = copy.deepcopy(json.loads((DATA / "demo_campaign.json").read_text("utf-8")))
    doc.update(changes)
    return doc


def write_public_key(key: Ed25519PrivateKey, path: Path) -> Path:
    path.write_bytes(key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    return path


def build_services(tmp_path: Path, clock, key: Ed25519PrivateKey, truck_id: str = "truck-test", **env: str) -> Services:
    """Services on a fresh database that trust ``key``'s public half."""
    environment = {"TRUCK_POS_STORE_PATH": str(tmp_path / "truck.db"), "TRUCK_POS_TRUCK_ID": truck_id,
                   "TRUCK_POS_SECURITY_CAMPAIGN_PUBLIC_KEY_FILE": str(write_public_key(key, tmp_path / "owner.pub.pem")), **env}
    return build(load_settings(env=environment), clock=clock)


def install(services: Services, key: Ed25519PrivateKey, document: dict[str, Any] | None = None):
    result = services.campaigns.install_bundle(sign_bundle(document or demo_document(), key))
    assert result.accepted, result.reason
    return result


@pytest.fixture
def owner() -> Ed25519PrivateKey:
    """A fresh owner key for this test (generated, never committed)."""
    return Ed25519PrivateKey.generate()


@pytest.fixture
def bare_svc(tmp_path, clock, owner):
    """Services trusting ``owner``, with no campaign installed yet."""
    services = build_services(tmp_path, clock, owner)
    yield services
    services.close()


@pytest.fixture
def svc(bare_svc, owner):
    """Services with the demo campaign installed."""
    install(bare_svc, owner)
    return bare_svc
