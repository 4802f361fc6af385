"""The register's start loads only what its first screen needs (issue #20: cold start and memory).

Each check runs in a fresh interpreter (this test process has imported everything already): build the
register as ``truck-pos`` does and look at ``sys.modules``. The heavy libraries then load where they are
used: python-escpos on the print worker's thread, cryptography with the first key, paho-mqtt only in a
process that runs the agent.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

HEAVY = ("escpos", "cryptography", "paho", "psycopg2", "matplotlib", "qrcode")


def run_child(tmp_path: Path, body: str, **env: str) -> dict:
    """Run ``body`` after building the register like ``truck-pos`` (no --sync); it prints one JSON line."""
    script = textwrap.dedent('''
        import json, sys
        from truck_pos.__main__ import sqlite_only
        sqlite_only()
        from truck_pos.bootstrap import build_register
        from truck_pos.config import load_settings
        services = build_register(load_settings(env=ENV), agent=False)
        def loaded():
            return sorted({m.split(".")[0] for m, mod in list(sys.modules.items()) if mod is not None} & set(HEAVY))
    ''') + textwrap.dedent(body)
    settings = {"TRUCK_POS_STORE_PATH": str(tmp_path / "truck.db"), "TRUCK_POS_MQTT_ENABLED": "true",
                "TRUCK_POS_PRINTER_KIND": "dummy"}
    script = script.replace("ENV", repr(settings)).replace("HEAVY", repr(HEAVY))
    environ = {k: v for k, v in os.environ.items() if k != "ESCPOS_CAPABILITIES_PICKLE_DIR"}  # as a fresh start
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=ROOT,
                         env={**environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), **env})
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_register_starts_without_escpos_cryptography_mqtt_or_server_drivers(tmp_path):
    got = run_child(tmp_path, '''
        print(json.dumps({"loaded": loaded(), "agent": services.extras.get("sync") is not None}))
    ''')
    assert got == {"loaded": [], "agent": False}


def test_the_print_worker_loads_the_printer_driver_and_caches_its_profiles(tmp_path):
    got = run_child(tmp_path, '''
        import os
        printer = services.printing.printer
        before = loaded()
        services.printing._warm()  # what the worker does once the UI is up (WARM_AFTER_S)
        cache = os.environ.get("ESCPOS_CAPABILITIES_PICKLE_DIR", "")
        print(json.dumps({"before": before, "after": loaded(), "columns": services.printing.columns,
                          "cache": cache, "pickles": sorted(os.listdir(cache)) if cache else []}))
    ''')
    assert got["before"] == [] and "escpos" in got["after"]
    assert got["columns"] == 48  # the default profile on 80 mm paper
    assert got["cache"] == str(tmp_path / "cache" / "truck_pos" / "escpos")  # not a new temp dir per process
    assert len(got["pickles"]) == 1 and got["pickles"][0].endswith(".capabilities.pickle")


def test_a_receipt_prints_from_a_cold_printer(tmp_path):
    """No warm-up: the first job loads the driver itself and its bytes are a receipt."""
    got = run_child(tmp_path, '''
        t = services.register.open_ticket()
        sku = services.menu.items()[0].sku
        t = services.register.add_item(t.id, sku)
        services.register.pay_card(t.id)  # the commit wakes the print worker (its thread prints)
        import time
        from truck_pos.store.print_models import PrintJob
        deadline = time.monotonic() + 60
        while PrintJob.select().where(PrintJob.status != "printed").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        data = services.printing.printer.last_bytes
        print(json.dumps({"printed": PrintJob.select().where(PrintJob.status == "printed").count(),
                          "cut": data.endswith(b"\\x1dV\\x00"), "loaded": loaded()}))
    ''')
    assert got["printed"] == 2 and got["cut"] is True  # the receipt and the kitchen ticket
    assert "escpos" in got["loaded"]


def test_a_held_campaign_and_a_personal_code_are_checked_with_libsodium_not_cryptography(tmp_path):
    """The truck only verifies: the owner key (PEM), the held bundle verified again at start and a personal
    code all go through libsodium (~3.6 MB); cryptography (~10 MB) stays out of the register."""
    import sys

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    from campaign_support import demo_document
    from truck_pos.domain.bundle import sign_bundle
    from truck_pos.domain.codes import PersonalCode, issue_personal_code

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_ui_start import _moved_to_today  # the demo week moved to start today (held, not expired)

    owner = Ed25519PrivateKey.generate()  # the owner's side signs, here in the test process
    key_file = tmp_path / "owner.pub.pem"
    key_file.write_bytes(owner.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    bundle = sign_bundle(_moved_to_today(demo_document()), owner)
    code = issue_personal_code(PersonalCode("summer-launch", "nearby_devices", "c-42"), owner)
    forged = code[:-2] + ("AA" if code[-2:] != "AA" else "BB")
    got = run_child(tmp_path, f'''
        from truck_pos.domain.codes import read_personal_code, normalize
        services.close()
        settings = load_settings(env={{**ENV, "TRUCK_POS_SECURITY_CAMPAIGN_PUBLIC_KEY_FILE": {str(key_file)!r}}})
        services = build_register(settings, agent=False)
        accepted = services.campaigns.install_bundle({bundle!r}).accepted
        services.close()
        services = build_register(settings, agent=False)  # a start with the bundle held: verified again
        held = services.campaigns.active_campaign() is not None or bool(services.campaigns.upcoming())
        key = services.campaigns.owner_key
        print(json.dumps({{"accepted": accepted, "held": held, "loaded": loaded(), "sodium": "nacl" in sys.modules,
                          "ok": read_personal_code(normalize({code!r}), key) is not None,
                          "forged": read_personal_code(normalize({forged!r}), key) is None}}))
    ''')
    assert got == {"accepted": True, "held": True, "loaded": [], "sodium": True, "ok": True, "forged": True}
