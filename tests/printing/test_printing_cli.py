"""Admin CLI for printing and pickup (printer detect/test, provisioning's [printer]), and the benchmark's table."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from escpos_decode import decode
from truck_pos.bootstrap import build
from truck_pos.cli import main
from truck_pos.config import load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_printer_test_page_fits_the_configured_paper(tmp_path, monkeypatch, capsys):
    out = tmp_path / "lp0"
    for key, value in {"STORE_PATH": str(tmp_path / "t.db"), "PRINTER_KIND": "file", "PRINTER_FILE_PATH": str(out),
                       "PRINTER_PAPER_MM": "58", "PRINTER_PROFILE": "POS-5890"}.items():
        monkeypatch.setenv(f"TRUCK_POS_{key}", value)
    assert main(["printer", "test"]) == 0
    page = decode(out.read_bytes(), "zjiang")
    assert page.texts[1] == "12345678901234567890123456789012" and page.max_columns() <= 32
    assert "profile POS-5890" in page.texts and "QR image, feed only, cp1252, CJK" in page.texts
    assert "Accents: àéîõü ñ ç € £" in page.texts
    assert page.image_qr_payloads == ["TP1.TEST"] and page.cuts == 0  # the profile's way: raster QR, no cutter


def test_an_unreachable_printer_gives_a_sentence_and_exit_code_1(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TRUCK_POS_STORE_PATH", str(tmp_path / "t.db"))
    monkeypatch.setenv("TRUCK_POS_PRINTER_KIND", "network")
    monkeypatch.setenv("TRUCK_POS_PRINTER_HOST", "127.0.0.1")
    monkeypatch.setenv("TRUCK_POS_PRINTER_PORT", "9")  # discard port: nothing listens -> connection refused
    assert main(["printer-test"]) == 1
    assert "error: Printer" in capsys.readouterr().err


def test_with_no_printer_configured_the_state_says_so_never_ready(tmp_path):
    services = build(load_settings(env={"TRUCK_POS_STORE_PATH": str(tmp_path / "t.db")}), print_autostart=False)
    try:
        assert services.settings.printer.kind == "none"
        state = services.printing.printer_state()
        assert (state.ok, state.message) == (False, "No printer configured")
        ticket = services.register.open_ticket()
        services.register.add_item(ticket.id, "taco-fish")
        services.register.pay_card(ticket.id)
        assert services.printing.run_once() == 0  # the jobs wait for a printer; the sale stands
        assert services.printing.printer_state().message == "No printer configured (2 waiting)"
    finally:
        services.close()


class FakeUsbDevice(SimpleNamespace):
    """What pyusb's usb.core.find yields: ids, device class, and configurations of interfaces."""

    def __iter__(self):
        return iter(self.configs)


def test_printer_detect_lists_usb_printers_and_serial_ports_and_writes_printer(tmp_path, monkeypatch, capsys):
    import serial.tools.list_ports
    import usb.core

    devices = [FakeUsbDevice(idVendor=0x1D6B, idProduct=0x0002, bDeviceClass=9, configs=[[SimpleNamespace(bInterfaceClass=9)]]),
               FakeUsbDevice(idVendor=0x04B8, idProduct=0x0E15, bDeviceClass=0, configs=[[SimpleNamespace(bInterfaceClass=7)]]),
               FakeUsbDevice(idVendor=0x1234, idProduct=0x5678, bDeviceClass=7, configs=[])]
    monkeypatch.setattr(usb.core, "find", lambda find_all=False, **kw: iter(devices))
    monkeypatch.setattr(serial.tools.list_ports, "comports",
                        lambda: [SimpleNamespace(device="/dev/ttyUSB0", description="USB-Serial", hwid="USB VID:PID=067B:2303")])
    config = tmp_path / "truck.ini"
    config.write_text("[truck]\nid = truck-07\n\n[printer]\nkind = dummy\ncolumns = 42\n\n[store]\npath = x.db\n")
    assert main(["--config", str(config), "printer", "detect", "--write", "--paper-mm", "58"]) == 0
    out = capsys.readouterr().out
    assert "1. Epson 04b8:0e15" in out and "2. USB printer 1234:5678" in out and "3. serial port /dev/ttyUSB0" in out
    assert "1d6b" not in out  # a USB hub is not a printer
    settings = load_settings(config, env={})
    p = settings.printer
    assert (p.kind, p.usb_vendor, p.usb_product, p.profile, p.paper_mm, p.columns) == ("usb", "0x04b8", "0x0e15",
                                                                                        "TM-T20II", 58, 0)
    assert settings.truck.id == "truck-07" and settings.store.path == "x.db"  # other sections untouched
    assert main(["--config", str(config), "printer", "detect", "--write", "--pick", "3"]) == 0
    assert load_settings(config, env={}).printer.serial_port == "/dev/ttyUSB0"


def test_provisioning_writes_a_printer_section(tmp_path):
    key = Ed25519PrivateKey.generate().public_key().public_bytes(serialization.Encoding.PEM,
                                                                 serialization.PublicFormat.SubjectPublicKeyInfo)
    public = tmp_path / "public.pem"
    public.write_bytes(key)
    base = ["provision", "--out", str(tmp_path / "out"), "--campaign-public-key", str(public)]
    assert main([*base, "--truck-id", "truck-01"]) == 0
    assert load_settings(tmp_path / "out" / "truck-01" / "truck.ini", env={}).printer.kind == "none"
    assert main([*base, "--truck-id", "truck-02", "--printer-usb", "0416:5011", "--printer-profile", "POS-5890",
                 "--paper-mm", "58"]) == 0
    p = load_settings(tmp_path / "out" / "truck-02" / "truck.ini", env={}).printer
    assert (p.kind, p.usb_vendor, p.usb_product, p.profile, p.paper_mm) == ("usb", "0x0416", "0x5011", "POS-5890", 58)
    assert main([*base, "--truck-id", "truck-03", "--printer-usb", "nonsense"]) == 1


@pytest.mark.parametrize("truck_id", ["x" * 65, "truck/one", "truck+1", "#", "", "trück"])
def test_a_truck_id_that_cannot_go_into_claims_or_topics_is_refused_by_the_config(truck_id):
    from truck_pos.errors import ConfigError

    with pytest.raises(ConfigError, match=r"\[truck\] id"):
        load_settings(env={"TRUCK_POS_TRUCK_ID": truck_id})


def test_the_longest_allowed_truck_id_still_gives_claims_that_verify(tmp_path):
    from datetime import date

    from truck_pos.domain.claims import MAX_CLAIM_CHARS, Claim, make_claim, verify_claim

    longest = "T" + "x" * 63
    load_settings(env={"TRUCK_POS_TRUCK_ID": longest})
    code = make_claim(b"k" * 32, longest, date(2026, 6, 1), 999_999_999, "5b3c1f0e-8a7d-4c2b-9e6f-0123456789ab")
    assert len(code) <= MAX_CLAIM_CHARS and isinstance(verify_claim(code, b"k" * 32, longest), Claim)


def test_pickup_scan_refuses_garbage(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TRUCK_POS_STORE_PATH", str(tmp_path / "t.db"))
    assert main(["pickup", "--scan", "not-a-code"]) == 1
    assert "Not a pickup code" in capsys.readouterr().out


def test_the_benchmark_prints_a_well_formed_table_with_finite_figures():
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_printing.py"), "--rounds", "3"],
                         capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert re.fullmatch(r"case\s+median ms\s+x floor", lines[0])
    rows = [re.fullmatch(r"(.+?)\s+(\S+)\s+(\S+)", line) for line in lines[1:] if line and not line.startswith("goal")]
    assert len(rows) >= 4 and all(rows)
    figures = {m.group(1): (float(m.group(2)), float(m.group(3))) for m in rows}
    assert all(math.isfinite(ms) and ms > 0 and math.isfinite(x) and x > 0 for ms, x in figures.values())
    floor = next(v for k, v in figures.items() if k.startswith("floor"))
    assert floor[1] == 1.0
    assert any(k.startswith("from stored order") for k in figures)
