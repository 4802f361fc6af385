"""truck-pos-admin campaign/report commands, end to end on a temp database."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from campaign_support import DATA
from truck_pos.cli import main

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("TRUCK_POS_STORE_PATH", str(tmp_path / "truck.db"))
    monkeypatch.setenv("TRUCK_POS_SECURITY_CAMPAIGN_PUBLIC_KEY_FILE", str(tmp_path / "keys" / "campaign_owner.pub.pem"))
    monkeypatch.delenv("TRUCK_POS_CONFIG", raising=False)
    return tmp_path


def test_owner_signs_a_bundle_and_the_truck_loads_it(env, capsys):
    keys, bundle = env / "keys", env / "demo.bundle"
    assert main(["campaign", "keygen", "--out", str(keys)]) == 0
    assert (keys / "campaign_owner.key").stat().st_mode & 0o777 == 0o600
    doc = json.loads((DATA / "demo_campaign.json").read_text())
    doc.update(valid_from="2026-01-01T00:00", valid_until="2099-12-31T22:00")  # the CLI runs on the real clock
    (env / "doc.json").write_text(json.dumps(doc))
    assert main(["campaign", "sign", str(env / "doc.json"), "--key", str(keys / "campaign_owner.key"), "-o", str(bundle)]) == 0
    assert main(["campaign", "load", str(bundle)]) == 0
    assert "accepted: campaign summer-launch installed" in capsys.readouterr().out
    assert main(["campaign", "status"]) == 0
    out = capsys.readouterr().out
    assert "FB-LIKE-10" in out and "(personal codes)" in out
    tampered = bytearray(bundle.read_bytes())
    tampered[60] ^= 1
    (env / "bad.bundle").write_bytes(bytes(tampered))
    assert main(["campaign", "load", str(env / "bad.bundle")]) == 1
    assert "refused:" in capsys.readouterr().out


def test_personal_code_is_printed_and_written_as_qr(env, capsys):
    assert main(["campaign", "keygen", "--out", str(env / "keys")]) == 0
    capsys.readouterr()
    qr = env / "code.png"
    assert main(["campaign", "code", "--key", str(env / "keys" / "campaign_owner.key"), "--campaign", "summer-launch",
                 "--segment", "nearby_devices", "--customer", "c-1", "--qr", str(qr)]) == 0
    code = capsys.readouterr().out.strip()
    assert code.startswith("TP1-") and qr.stat().st_size > 0


def test_invalid_document_is_not_signed(env, capsys):
    assert main(["campaign", "keygen", "--out", str(env / "keys")]) == 0
    doc = json.loads((DATA / "demo_campaign.json").read_text())
    doc["segments"][0]["benefit"] = {"kind": "percent_off", "percent": 150}
    (env / "bad.json").write_text(json.dumps(doc))
    assert main(["campaign", "sign", str(env / "bad.json"), "--key", str(env / "keys" / "campaign_owner.key"), "-o", str(env / "x")]) == 1
    assert "percent" in capsys.readouterr().err and not (env / "x").exists()


def test_report_command_writes_table_csv_and_png(env, capsys):
    assert main(["report", "--day", "2026-06-01", "--csv", str(env / "r.csv"), "--png", str(env / "charts")]) == 0
    out = capsys.readouterr().out
    assert "Business day 2026-06-01" in out and (env / "r.csv").read_text().startswith("table,")
    assert (env / "charts" / "sales_by_segment.png").exists()


def test_demo_script_makes_a_bundle_the_truck_accepts(env, capsys):
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "make_demo_campaign.py"), "--keys", str(env / "keys"),
                          "--out", str(env / "demo.bundle"), "--today"], cwd=ROOT, capture_output=True, text=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stderr
    assert main(["campaign", "load", str(env / "demo.bundle")]) == 0
