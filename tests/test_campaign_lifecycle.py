"""Bundle lifecycle: live and upcoming campaigns, activation by (business-day) time, and the refusals
(expired, older than seen for the key, same version with other content) through the real CampaignService.

Expected windows are written out by hand from the documents (Chicago is UTC-5 in June).
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from campaign_support import bare_svc, build_services, demo_document, install, owner  # noqa: F401 (fixtures)
from truck_pos.domain.bundle import sign_bundle


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def doc(cid: str, version: int, valid_from: str, valid_until: str, **changes):
    """A small campaign: one shared code per campaign (CODE-<id>)."""
    return demo_document(id=cid, name=cid, version=version, valid_from=valid_from, valid_until=valid_until, groups=[],
                         segments=[{"name": "facebook_likers", "channel": "facebook", "code": f"CODE-{cid}",
                                    "benefit": {"kind": "percent_off", "percent": 10}}], **changes)


def code_works(svc, code: str) -> bool:
    tid = svc.register.open_ticket().id
    svc.register.add_item(tid, "bowl-burrito")
    result = svc.redemption.check(code, svc.register.ticket(tid))
    svc.register.cancel(tid)
    return not hasattr(result, "reason")


def test_expired_bundle_is_refused_and_the_live_campaign_stays(bare_svc, owner):
    # the clock fixture is 2026-06-01 12:00 in Chicago
    install(bare_svc, owner, doc("today", 1, "2026-06-01T10:00", "2026-06-01T22:00"))
    result = bare_svc.campaigns.install_bundle(sign_bundle(doc("old", 2, "2026-05-20T10:00", "2026-05-31T22:00"), owner))
    assert not result.accepted and result.reason.startswith("expired: campaign old ended 2026-05-31 22:00")
    assert bare_svc.campaigns.active_campaign().id == "today"
    assert code_works(bare_svc, "CODE-today") and not code_works(bare_svc, "CODE-old")


def test_tomorrow_is_held_beside_today_and_goes_live_at_the_business_day_start(bare_svc, owner):
    install(bare_svc, owner, doc("today", 1, "2026-06-01", "2026-06-01"))
    result = bare_svc.campaigns.install_bundle(sign_bundle(doc("tomorrow", 2, "2026-06-02", "2026-06-02"), owner))
    assert result.accepted and "starts 2026-06-02 04:00" in result.reason
    assert bare_svc.campaigns.active_campaign().id == "today"
    assert [c.id for c in bare_svc.campaigns.upcoming()] == ["tomorrow"]
    assert code_works(bare_svc, "CODE-today") and not code_works(bare_svc, "CODE-tomorrow")
    # 01:30 on June 2 is still June 1's business day (it starts at 04:00): today's campaign is live
    bare_svc.clock.set(utc("2026-06-02T06:30:00"))
    assert bare_svc.campaigns.active_campaign().id == "today" and code_works(bare_svc, "CODE-today")
    bare_svc.clock.set(utc("2026-06-02T08:59:59"))  # 03:59:59 local
    assert bare_svc.campaigns.active_campaign().id == "today"
    bare_svc.clock.set(utc("2026-06-02T09:00:00"))  # 04:00 local: tomorrow's business day begins
    assert bare_svc.campaigns.active_campaign().id == "tomorrow"
    assert code_works(bare_svc, "CODE-tomorrow") and not code_works(bare_svc, "CODE-today")
    assert bare_svc.campaigns.upcoming() == []


def test_an_older_bundle_of_another_campaign_is_refused_after_a_newer_one(bare_svc, owner):
    a = sign_bundle(doc("campaign-a", 5, "2026-06-01T10:00", "2026-06-07T22:00"), owner)
    assert bare_svc.campaigns.install_bundle(a).accepted
    install(bare_svc, owner, doc("campaign-b", 6, "2026-06-01T10:00", "2026-06-07T22:00"))
    replay = bare_svc.campaigns.install_bundle(a)
    assert not replay.accepted
    assert replay.reason == "older than seen: version 5 is below version 6 (campaign campaign-b) already installed from this key"
    assert bare_svc.campaigns.active_campaign().id == "campaign-b"


def test_same_version_with_other_content_is_refused_and_the_same_bundle_is_a_no_op(bare_svc, owner):
    first = sign_bundle(doc("camp", 3, "2026-06-01T10:00", "2026-06-07T22:00"), owner)
    assert bare_svc.campaigns.install_bundle(first).accepted
    changed = doc("camp", 3, "2026-06-01T10:00", "2026-06-07T22:00")
    changed["segments"][0]["benefit"]["percent"] = 50
    result = bare_svc.campaigns.install_bundle(sign_bundle(changed, owner))
    assert not result.accepted and result.reason.startswith("same version 3 as the bundle already installed but different content")
    again = bare_svc.campaigns.install_bundle(first)
    assert again.accepted and again.reason == "campaign camp version 3 is already installed"
    assert bare_svc.campaigns.active_campaign().segments[0].benefit.percent == 10


def test_a_higher_version_of_the_live_campaign_replaces_it(bare_svc, owner):
    install(bare_svc, owner, doc("camp", 1, "2026-06-01T10:00", "2026-06-07T22:00"))
    newer = doc("camp", 2, "2026-06-01T10:00", "2026-06-07T22:00")
    newer["segments"][0]["benefit"]["percent"] = 20
    install(bare_svc, owner, newer)
    assert bare_svc.campaigns.active_campaign().segments[0].benefit.percent == 20
    assert bare_svc.campaigns.upcoming() == []


def test_live_upcoming_and_the_high_water_mark_survive_a_restart(tmp_path, clock, owner):
    first = build_services(tmp_path, clock, owner)
    install(first, owner, doc("today", 1, "2026-06-01", "2026-06-01"))
    install(first, owner, doc("tomorrow", 2, "2026-06-02", "2026-06-02"))
    first.close()
    second = build_services(tmp_path, clock, owner)
    try:
        assert second.campaigns.active_campaign().id == "today"
        assert [c.id for c in second.campaigns.upcoming()] == ["tomorrow"]
        replay = second.campaigns.install_bundle(sign_bundle(doc("today", 1, "2026-06-01", "2026-06-01"), owner))
        assert not replay.accepted and replay.reason.startswith("older than seen")
    finally:
        second.close()


def test_a_bundle_installed_by_another_connection_is_seen_by_the_next_code_check(tmp_path, clock, owner):
    register = build_services(tmp_path, clock, owner)
    agent = build_services(tmp_path, clock, owner)  # stands in for the sync process: its own connection
    try:
        assert register.campaigns.active_campaign() is None
        install(agent, owner, doc("fresh", 1, "2026-06-01T10:00", "2026-06-07T22:00"))
        assert code_works(register, "CODE-fresh")
    finally:
        agent.close()
        register.close()


@pytest.mark.parametrize("field, value, reason", [
    ("messages", {"sms": "hi"}, "campaign has unknown field(s) messages"),
    ("version", 0, "campaign.version = 0 is not allowed"),
    ("id", "x" * 65, "campaign.id"),
])
def test_bundle_content_outside_the_limits_is_refused_with_the_field_named(bare_svc, owner, field, value, reason):
    result = bare_svc.campaigns.install_bundle(sign_bundle(demo_document(**{field: value}), owner))
    assert not result.accepted and reason in result.reason


def test_a_bundle_loaded_by_another_os_process_is_seen_by_the_running_register(tmp_path, clock, owner):
    """The admin CLI (its own process, its own SQLite connection) loads a bundle; the register's next check sees it."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    register = build_services(tmp_path, clock, owner)
    try:
        assert not code_works(register, "CODE-cli")
        bundle = tmp_path / "cli.bundle"
        bundle.write_bytes(sign_bundle(doc("cli", 4, "2026-01-01T00:00", "2099-12-31T22:00"), owner))  # the CLI's real clock
        env = {**os.environ, "TRUCK_POS_STORE_PATH": str(tmp_path / "truck.db"), "TRUCK_POS_TRUCK_ID": "truck-test",
               "TRUCK_POS_SECURITY_CAMPAIGN_PUBLIC_KEY_FILE": str(tmp_path / "owner.pub.pem")}
        env.pop("TRUCK_POS_CONFIG", None)
        run = subprocess.run([sys.executable, "-c", "import sys; from truck_pos.admin import main; sys.exit(main())", "campaign", "load", str(bundle)], env=env,
                             capture_output=True, text=True, timeout=120, cwd=Path(__file__).resolve().parent.parent)
        assert run.returncode == 0 and "accepted: campaign cli installed" in run.stdout, run.stdout + run.stderr
        assert code_works(register, "CODE-cli")
        assert register.campaigns.active_campaign().version == 4
    finally:
        register.close()


def test_the_campaign_limits_are_the_sync_contracts():
    from sync import protocol
    from truck_pos.domain import campaign

    assert campaign.MAX_ID_LEN == protocol.MAX_ID_LEN == protocol.SCHEMAS["redemption"]["segment"].max
    assert campaign.MAX_CENTS == protocol.MENU_ITEM["price_cents"].max


def test_tomorrows_flash_campaign_takes_over_from_a_week_long_one_while_it_runs(bare_svc, owner):
    install(bare_svc, owner, doc("week", 1, "2026-06-01", "2026-06-07"))
    install(bare_svc, owner, doc("flash", 2, "2026-06-02", "2026-06-02"))  # tomorrow only
    install(bare_svc, owner, doc("week", 3, "2026-06-01", "2026-06-07"))  # a correction of the week, signed later
    assert bare_svc.campaigns.active_campaign().id == "week" and bare_svc.campaigns.active_campaign().version == 3
    bare_svc.clock.set(utc("2026-06-02T15:00:00"))  # 10:00 on June 2: the flash started last, it is live
    assert bare_svc.campaigns.active_campaign().id == "flash"
    bare_svc.clock.set(utc("2026-06-03T15:00:00"))
    assert bare_svc.campaigns.active_campaign().id == "week" and bare_svc.campaigns.active_campaign().version == 3


def test_a_stored_bundle_that_no_longer_verifies_is_not_used_and_a_new_key_starts_its_own_versions(tmp_path, clock, owner):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    first = build_services(tmp_path, clock, owner)
    install(first, owner, doc("old-key", 9, "2026-06-01T10:00", "2026-06-07T22:00"))
    first.close()
    new_owner = Ed25519PrivateKey.generate()
    second = build_services(tmp_path, clock, new_owner)  # the owner key was rotated
    try:
        assert second.campaigns.active_campaign() is None
        install(second, new_owner, doc("new-key", 1, "2026-06-01T10:00", "2026-06-07T22:00"))  # its own high-water mark
        assert second.campaigns.active_campaign().id == "new-key" and code_works(second, "CODE-new-key")
    finally:
        second.close()


from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

NASTY = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=120),
                  st.sampled_from(["", "x" * 65, "2026-13-01", "2026-06-02", "\x00", 10**20, -1]),
                  st.lists(st.text(max_size=5), max_size=3), st.dictionaries(st.text(max_size=4), st.integers(), max_size=2))
VERSIONS = iter(range(10, 10**6))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(where=st.sampled_from(["top", "segment", "benefit"]), key=st.text(max_size=20) | st.sampled_from(
    ["id", "name", "valid_from", "valid_until", "trucks", "stacking", "code", "channel", "total_uses", "uses_per_customer",
     "percent", "kind", "unique_codes", "segments", "goal", "group"]), value=NASTY)
def test_any_bundle_content_gives_a_result_with_a_reason_never_an_exception(bare_svc, owner, where, key, value):
    document = demo_document(version=next(VERSIONS))
    target = {"top": document, "segment": document["segments"][0], "benefit": document["segments"][0]["benefit"]}[where]
    target[key] = value
    try:
        raw = sign_bundle(document, owner)
    except (TypeError, ValueError):
        return  # not JSON at all: the owner's tools cannot even sign it
    result = bare_svc.campaigns.install_bundle(raw)
    assert isinstance(result.accepted, bool) and result.reason
    if result.accepted:
        live = bare_svc.campaigns.active_campaign() or bare_svc.campaigns.upcoming()[0]
        assert 0 < len(live.id) <= 64 and all(0 < len(s.name) <= 64 for s in live.segments)
    else:
        assert result.reason.startswith(("invalid campaign", "campaign ", "expired", "malformed")), result.reason
