"""The appliance as systemd runs it: mosquitto (fleet ACL), truck-pos-hub, truck-pos-sync and the register, as
separate OS processes on one truck database, configured by ``truck-pos-admin provision``; each killed -9 once.

Expected figures come from the demo menu's prices and the campaign's rules, worked out by hand below.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from devtools.local_broker import FLEET_ACL, MosquittoBroker
from tests.campaign_support import write_public_key
from tests.printing.escpos_decode import decode
from truck_pos.domain.bundle import sign_bundle
from truck_pos.domain.codes import PersonalCode, issue_personal_code

pytestmark = pytest.mark.mqtt

BIN = Path(sys.executable).parent
MANAGER_PIN = "9999"
NOTE = "appliance mobile order"


def noon_zone() -> str:
    """A fixed-offset zone where it is about noon now, so the business day and the calendar day agree."""
    k = 12 - datetime.now(timezone.utc).hour
    k = k - 24 if k > 14 else k + 24 if k < -12 else k
    return f"Etc/GMT{-k:+d}"


class Fifo:
    """The receipt printer: a FIFO the register's file printer writes; everything printed is kept here."""

    def __init__(self, path: Path):
        self.path = path
        os.mkfifo(path)
        self.data = bytearray()
        self._lock = threading.Lock()
        self._stop = False
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while not self._stop:
            with open(self.path, "rb") as f:  # blocks until a printer opens it; EOF when that process dies
                while chunk := f.read1(4096):
                    with self._lock:
                        self.data += chunk

    def decoded(self):
        with self._lock:
            return decode(bytes(self.data))

    def stop(self) -> None:
        self._stop = True
        try:  # wake the reader if it waits in open()
            os.close(os.open(self.path, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass


class Appliance:
    """Starts, kills and restarts the processes; every process logs to its own file."""

    def __init__(self, root: Path):
        self.root = root
        self.procs: dict[str, subprocess.Popen] = {}
        self.cmds: dict[str, tuple[list[str], dict[str, str]]] = {}

    def start(self, name: str, cmd: list[str] | None = None, env: dict[str, str] | None = None) -> None:
        if cmd is not None:
            self.cmds[name] = (cmd, env or {})
        cmd, extra = self.cmds[name]
        log = open(self.root / f"{name}.log", "ab")
        self.procs[name] = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **extra})

    def kill9(self, name: str) -> None:
        proc = self.procs[name]
        assert proc.poll() is None, f"{name} died on its own:\n{self.log(name)}"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def log(self, name: str) -> str:
        return (self.root / f"{name}.log").read_text("utf-8", "replace")[-3000:]

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def run(*cmd: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(list(cmd), capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})})
    assert done.returncode == 0, f"{cmd} -> {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def wait_for(predicate, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.1)


def ask(sock: Path, request: dict) -> dict:
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(20)
        s.connect(str(sock))
        s.sendall(json.dumps(request).encode() + b"\n")
        return json.loads(s.makefile("rb").readline())


def control_up(sock: Path) -> bool:
    try:
        return ask(sock, {"op": "status"})["ok"]
    except OSError:
        return False


def outbox_drained(db: Path) -> bool:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        return con.execute("SELECT COUNT(*) FROM outbox WHERE acked_utc IS NULL").fetchone()[0] == 0


def provision(tmp: Path, truck: str, tz: str, owner_pub: Path) -> tuple[Path, str]:
    """``truck-pos-admin provision`` as the owner runs it; the bundle's paths then point into ``tmp`` (the install step)."""
    run(str(BIN / "truck-pos-admin"), "provision", "--truck-id", truck, "--timezone", tz, "--campaign-public-key",
        str(owner_pub), "--out", str(tmp / "provisioned"), "--broker-host", "127.0.0.1")
    bundle = tmp / "provisioned" / truck
    state = tmp / truck
    state.mkdir()
    ini = bundle / "truck.ini"
    ini.write_text(ini.read_text().replace("/etc/truck_pos", str(bundle)).replace("/var/lib/truck_pos", str(state)))
    return ini, (bundle / "mqtt-password").read_text().strip()


def test_the_appliance_day_with_every_process_killed_once(tmp_path):
    tz = noon_zone()
    owner = Ed25519PrivateKey.generate()
    pub = write_public_key(owner, tmp_path / "owner.pub.pem")
    ini_a, pw_a = provision(tmp_path, "truck-a", tz, pub)
    ini_b, pw_b = provision(tmp_path, "truck-b", tz, pub)
    hub_pw = tmp_path / "hub-password"
    hub_pw.write_text("hub-secret-for-this-test")
    broker = MosquittoBroker(tmp_path, users={"hub": hub_pw.read_text(), "truck-a": pw_a, "truck-b": pw_b}, acl_file=FLEET_ACL)
    for ini in (ini_a, ini_b):
        ini.write_text(ini.read_text().replace("port = 1883", f"port = {broker.port}"))
    printer = Fifo(tmp_path / "printer.fifo")
    stray = Fifo(tmp_path / "sync-printer.fifo")  # where truck-pos-sync would print, if it ever printed
    # /etc/default/truck-pos: what an owner tunes without touching truck.ini (both units read it)
    tuning = {"TRUCK_POS_MQTT_RECONNECT_MIN_S": "0.2", "TRUCK_POS_MQTT_RECONNECT_MAX_S": "1", "TRUCK_POS_MQTT_ACK_TIMEOUT_S": "2",
              "TRUCK_POS_MQTT_KEEPALIVE_S": "5", "TRUCK_POS_PRINTER_KIND": "file", "TRUCK_POS_PRINTER_FILE_PATH": str(printer.path)}
    db_a, sock_a, sock_b = tmp_path / "truck-a" / "truck.db", tmp_path / "a.sock", tmp_path / "b.sock"
    hub_db = f"sqlite:///{tmp_path / 'hub.db'}"
    hub_args = ["--db", hub_db, "--host", "127.0.0.1", "--port", str(broker.port), "--password-file", str(hub_pw)]
    app = Appliance(tmp_path)
    try:
        broker.start()
        for ini in (ini_a, ini_b):  # the install step: schema, demo menu, a manager
            run(str(BIN / "truck-pos-admin"), "--config", str(ini), "staff", "add", "Maria", "--role", "manager",
                "--pin", MANAGER_PIN, env=tuning)
        app.start("hub", [str(BIN / "truck-pos-hub"), *hub_args, "run"])
        app.start("register", [str(BIN / "truck-pos"), "--config", str(ini_a), "--headless", "--control", str(sock_a)], tuning)
        app.start("sync", [str(BIN / "truck-pos-sync"), "--config", str(ini_a), "--every", "1"],
                  {**tuning, "TRUCK_POS_PRINTER_FILE_PATH": str(stray.path)})
        # truck B: the register running its agent in-process (truck-pos --sync), no printer
        app.start("truck-b", [str(BIN / "truck-pos"), "--config", str(ini_b), "--headless", "--sync", "--control", str(sock_b)],
                  {**tuning, "TRUCK_POS_PRINTER_KIND": "dummy"})
        wait_for(lambda: control_up(sock_a) and control_up(sock_b), 30, "both registers to answer")
        code_check = {"op": "code", "items": [["bowl-burrito", 2]], "code": "APPL-10"}
        assert "unknown code" in ask(sock_a, code_check)["reason"]

        # the owner publishes a campaign through the hub; the register process accepts its code within seconds
        local_now = datetime.now(timezone.utc).astimezone(ZoneInfo(tz))
        doc = {"format": 1, "id": "appliance", "name": "Appliance week", "trucks": ["*"],
               "issued_at": (datetime.now(timezone.utc) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
               "valid_from": (local_now - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
               "valid_until": (local_now + timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M"),
               "segments": [{"name": "fans", "channel": "email", "code": "APPL-10", "benefit": {"kind": "percent_off", "percent": 10}},
                            {"name": "vip", "channel": "email", "benefit": {"kind": "amount_off", "amount_cents": 200}}]}
        bundle = tmp_path / "appliance.bundle"
        bundle.write_bytes(sign_bundle(doc, owner))
        for truck in ("truck-a", "truck-b"):
            run(str(BIN / "truck-pos-hub"), *hub_args, "publish-campaign", truck, "appliance", str(bundle))
        published = time.monotonic()
        accepted = wait_for(lambda: (lambda r: r if r.get("accepted") else None)(ask(sock_a, code_check)), 20,
                            "the register process to accept the new campaign's code")
        assert accepted["amount_cents"] == 219 and time.monotonic() - published < 20

        personal = issue_personal_code(PersonalCode("appliance", "vip", "c-appliance-1"), owner)
        s1 = ask(sock_a, {"op": "sale", "items": [["bowl-burrito", 2]], "codes": ["APPL-10"], "strict": True})
        s2 = ask(sock_a, {"op": "sale", "items": [["quesadilla", 1]], "codes": [personal], "strict": True})
        assert s1["sold"] and s2["sold"], (s1, s2)
        app.kill9("sync")  # its rows may be in flight: they must arrive once
        app.start("sync")
        s3 = ask(sock_a, {"op": "sale", "items": [["taco-fish", 2]], "tender": "cash", "cash_cents": 2000})
        s4 = ask(sock_a, {"op": "sale", "items": [["side-guac", 2]]})
        wait_for(lambda: ask(sock_a, {"op": "status"})["pending_jobs"] == 0, 20, "the counter receipts to print")
        app.kill9("register")
        app.start("register")
        wait_for(lambda: control_up(sock_a), 30, "the register to come back")
        assert ask(sock_a, {"op": "void", "order_id": s3["order_id"], "pin": MANAGER_PIN, "reason": "wrong order"})["ok"]
        assert ask(sock_a, {"op": "refund", "order_id": s4["order_id"], "pin": MANAGER_PIN, "reason": "cold"})["ok"]

        mobile = {"order_id": "5b0c4a52-6c1e-4c57-9a0e-3f5d7a0c9e11", "lines": [
            {"sku": "taco-al-pastor", "name": "Al Pastor Taco", "quantity": 2, "unit_price_cents": 375, "tax_rate_bp": 825}],
            "total_cents": 812, "customer_ref": "app-1", "note": NOTE, "payment_ref": "pay-1"}
        (tmp_path / "mobile.json").write_text(json.dumps(mobile))
        run(str(BIN / "truck-pos-hub"), *hub_args, "send-mobile-order", "truck-a", str(tmp_path / "mobile.json"))
        wait_for(lambda: any("MOBILE" in t for t in printer.decoded().texts), 20, "the mobile order's kitchen ticket")
        app.kill9("hub")
        app.start("hub")
        b1 = ask(sock_b, {"op": "sale", "items": [["quesadilla", 1]], "codes": [personal], "strict": True})
        assert b1["sold"], b1  # truck B cannot know truck A used it: that is what the hub is for
        broker.kill()  # kill -9
        broker.start()
        wait_for(lambda: outbox_drained(db_a) and outbox_drained(tmp_path / "truck-b" / "truck.db"), 40,
                 "both trucks' outboxes to be acked by the hub")
        time.sleep(0.5)  # the last print job, if any, is not lost but may still be on its way
    finally:
        app.stop_all()
        broker.stop()
        printer.stop()
        stray.stop()

    # --- printed exactly once, by the register process only --------------------------------------------------------
    assert not stray.data, "truck-pos-sync printed"
    printed = printer.decoded()
    counter = [s1, s2, s3, s4]
    claims = printed.qr_payloads
    assert len(claims) == len(set(claims)) == 4, claims  # one receipt per counter sale, none twice
    big = [ln.text for ln in printed.lines if ln.double_width and ln.text.startswith("#")]
    assert sorted(big) == sorted([f"#{s['number']}" for s in counter] + ["#5"]), big  # kitchen tickets, mobile is #5
    assert sum(f"NOTE: {NOTE}" in t for t in printed.texts) == 1 and sum(t == "MOBILE" for t in printed.texts) == 1

    # --- the hub's figures equal the truck's, and both equal the hand-worked day ---------------------------------------
    # burrito 1095 x2 = 2190, 10 % off 219, tax 8.25 % of 1971 = 163; quesadilla 850, 200 off, tax 54 on 650;
    # fish 450 x2 = 900 (voided); guac 550 x2 = 1100 (refunded); mobile al pastor 375 x2 = 750, tax 62
    expected = {"orders": 5, "gross_cents": 2190 + 850 + 900 + 1100 + 750, "discount_cents": 419, "voids": 1,
                "void_cents": 900, "refunds": 1, "refund_cents": 1100, "net_cents": 1971 + 650 + 750, "tax_cents": 163 + 54 + 62}
    truck = json.loads(run(str(BIN / "truck-pos-admin"), "--config", str(ini_a), "totals", "--json", env=tuning))
    assert truck["money"] == expected
    out = tmp_path / "nightly"
    night = subprocess.run([str(BIN / "truck-pos-owner"), "nightly", "--hub-db", hub_db, "--day", truck["business_day"],
                            "--tz", tz, "--truck-db", f"truck-a={db_a}", "--truck", "truck-b", "--out", str(out),
                            "--no-progress"], capture_output=True, text=True, timeout=60)
    summary = json.loads((out / "summary.json").read_text())
    assert night.returncode == 0, night.stdout + night.stderr  # reconciled: nothing lost on either side
    by_truck = {t["truck"]: t for t in summary["trucks"]}
    assert by_truck["truck-a"]["money"] == expected
    assert by_truck["truck-a"]["by_kind"]["order"] == 5 and by_truck["truck-a"]["by_kind"]["order_voided"] == 1

    # --- the personal code used on both trucks is flagged at the hub, with both orders ---------------------------------
    [flag] = summary["double_spends"]
    assert {(flag["first"]["truck"], flag["first"]["order_id"]), (flag["second"]["truck"], flag["second"]["order_id"])} == {
        ("truck-a", s2["order_id"]), ("truck-b", b1["order_id"])}
    assert "DOUBLE SPEND" in night.stdout
