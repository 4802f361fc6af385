"""Signed campaign bundles: accepted when signed by the owner, refused with a reason otherwise."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from campaign_support import bare_svc, owner, build_services, demo_document, install  # noqa: F401 (fixtures)
from truck_pos.domain.bundle import BundleRefused, b64u_encode, sign_bundle, verify_bundle
from truck_pos.domain.campaign import parse_campaign




def test_signed_bundle_is_installed_and_announced(bare_svc, owner):
    seen = []
    bare_svc.campaigns.on_installed.append(seen.append)
    result = bare_svc.campaigns.install_bundle(sign_bundle(demo_document(), owner), source="mqtt")
    assert result.accepted and result.campaign_id == "summer-launch"
    assert bare_svc.campaigns.active_campaign().name == "Summer launch"
    assert seen and seen[0]["devices"] == []


def test_every_single_byte_change_is_refused_and_the_old_campaign_stays(bare_svc, owner):
    install(bare_svc, owner)
    bundle = sign_bundle(demo_document(id="next", issued_at="2026-06-01T00:00:00Z"), owner)
    wrapper = json.loads(bundle)
    body_at = bundle.index(wrapper["payload"].encode())
    sig_at = bundle.index(wrapper["signature"].encode())
    positions = list(range(body_at, body_at + len(wrapper["payload"]))) + list(range(sig_at, sig_at + len(wrapper["signature"])))
    positions += list(range(0, body_at))  # the wrapper itself too
    for pos in positions:
        for delta in (1, 0x20):
            tampered = bytearray(bundle)
            tampered[pos] ^= delta
            result = bare_svc.campaigns.install_bundle(bytes(tampered))
            assert not result.accepted, f"byte {pos} ^ {delta:#x} was accepted"
            assert result.reason
    assert bare_svc.campaigns.active_campaign().id == "summer-launch"


@pytest.mark.parametrize("raw, reason", [
    (b"", "empty"),
    (b"not json at all", "malformed"),
    (json.dumps(demo_document()).encode(), "unsigned"),
    (b'{"format":"truck_pos.campaign.v1","key_id":"x","payload":"e30","signature":"!!"}', "malformed"),
    (b"\xff\xfe garbage", "malformed"),
])
def test_unsigned_or_malformed_bundles_are_refused_with_a_reason(bare_svc, owner, raw, reason):
    install(bare_svc, owner)
    result = bare_svc.campaigns.install_bundle(raw)
    assert not result.accepted and reason in result.reason
    assert bare_svc.campaigns.active_campaign().id == "summer-launch"


def test_bundle_signed_by_another_key_is_refused(bare_svc, owner):
    stranger = Ed25519PrivateKey.generate()
    result = bare_svc.campaigns.install_bundle(sign_bundle(demo_document(), stranger))
    assert not result.accepted and "unknown key" in result.reason
    assert bare_svc.campaigns.active_campaign() is None


def test_invalid_campaign_inside_a_valid_signature_names_the_field(bare_svc, owner):
    doc = demo_document()
    doc["segments"][0]["channel"] = "carrier-pigeon"
    result = bare_svc.campaigns.install_bundle(sign_bundle(doc, owner))
    assert not result.accepted and "segments[0].channel" in result.reason


def test_campaign_for_other_trucks_and_older_versions_are_refused(bare_svc, owner):
    assert "other trucks" in bare_svc.campaigns.install_bundle(sign_bundle(demo_document(trucks=["truck-9"]), owner)).reason
    install(bare_svc, owner, demo_document(version=2))
    older = bare_svc.campaigns.install_bundle(sign_bundle(demo_document(version=1, name="Old"), owner))
    assert not older.accepted and "older" in older.reason
    again = bare_svc.campaigns.install_bundle(sign_bundle(demo_document(version=2), owner))
    assert again.accepted and "already installed" in again.reason


def test_active_campaign_survives_a_restart(tmp_path, clock, owner):
    first = build_services(tmp_path, clock, owner)
    install(first, owner)
    first.close()
    second = build_services(tmp_path, clock, owner)
    try:
        assert second.campaigns.active_campaign().id == "summer-launch"
        assert second.campaigns.code_index().by_code
    finally:
        second.close()


def test_a_listener_that_fails_does_not_undo_the_install(bare_svc, owner):
    bare_svc.campaigns.on_installed.append(lambda doc: 1 / 0)
    assert bare_svc.campaigns.install_bundle(sign_bundle(demo_document(), owner)).accepted


def test_windows_are_read_in_the_truck_time_zone():
    campaign = parse_campaign(demo_document(), "America/Chicago")
    assert campaign.valid_from_utc.isoformat() == "2026-06-01T15:00:00+00:00"  # 10:00 CDT
    doc = demo_document(valid_from="2026-01-05T10:00", valid_until="2026-01-06T10:00")
    doc["segments"] = [s for s in doc["segments"] if "valid_from" not in s]
    winter = parse_campaign(doc, "America/Chicago")
    assert winter.valid_from_utc.hour == 16  # 10:00 CST


def test_non_canonical_base64_is_refused():
    key = Ed25519PrivateKey.generate()
    wrapper = json.loads(sign_bundle({"id": "x"}, key))
    wrapper["payload"] = b64u_encode(b"{}") + "="
    raw = json.dumps(wrapper, sort_keys=True, separators=(",", ":")).encode()
    with pytest.raises(BundleRefused):
        verify_bundle(raw, [key.public_key()])


@pytest.mark.parametrize("key_file", ["", "/nonexistent/owner.pub.pem"])
def test_without_a_usable_public_key_the_register_runs_and_bundles_are_refused(tmp_path, clock, owner, key_file):
    from truck_pos.bootstrap import build
    from truck_pos.config import load_settings

    settings = load_settings(env={"TRUCK_POS_STORE_PATH": str(tmp_path / "t.db"), "TRUCK_POS_SECURITY_CAMPAIGN_PUBLIC_KEY_FILE": key_file})
    services = build(settings, clock=clock)
    try:
        result = services.campaigns.install_bundle(sign_bundle(demo_document(), owner))
        assert not result.accepted and "campaign_public_key_file" in result.reason
    finally:
        services.close()


def test_installed_bundle_feeds_the_proximity_service_its_devices_and_window(bare_svc, owner):
    doc = demo_document(devices=[{"device_id": "phone-1", "customer_ref": "c-1", "secret": "ab" * 16}])
    install(bare_svc, owner, doc)
    assert bare_svc.proximity.registered_count() == 1
    campaign_id, start, end = bare_svc.proximity.window_for(bare_svc.clock.now())
    assert campaign_id == "summer-launch" and (start, end) == (
        bare_svc.campaigns.active_campaign().valid_from_utc, bare_svc.campaigns.active_campaign().valid_until_utc)


def test_a_bundle_copied_with_windows_line_endings_still_verifies(owner):
    bundle = sign_bundle(demo_document(), owner)
    assert verify_bundle(bundle.rstrip(b"\n") + b"\r\n", [owner.public_key()])["id"] == "summer-launch"
    assert verify_bundle(bundle.rstrip(b"\n"), [owner.public_key()])["id"] == "summer-launch"
    with pytest.raises(BundleRefused):
        verify_bundle(bundle + b" ", [owner.public_key()])
