"""Admin CLI for printing and pickup, and the benchmark script, run end to end."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from escpos_decode import decode
from truck_pos.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_printer_test_page_fits_the_configured_paper(tmp_path, monkeypatch, capsys):
    out = tmp_path / "lp0"
    for key, value in {"STORE_PATH": str(tmp_path / "t.db"), "PRINTER_KIND": "file", "PRINTER_FILE_PATH": str(out),
                       "PRINTER_PAPER_MM": "58", "PRINTER_PROFILE": "POS-5890"}.items():
        monkeypatch.setenv(f"TRUCK_POS_{key}", value)
    assert main(["printer-test"]) == 0
    page = decode(out.read_bytes())
    assert page.texts[1] == "12345678901234567890123456789012" and page.qr_payloads == ["TP1.TEST"]


def test_an_unreachable_printer_gives_a_sentence_and_exit_code_1(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TRUCK_POS_STORE_PATH", str(tmp_path / "t.db"))
    monkeypatch.setenv("TRUCK_POS_PRINTER_KIND", "network")
    monkeypatch.setenv("TRUCK_POS_PRINTER_HOST", "127.0.0.1")
    monkeypatch.setenv("TRUCK_POS_PRINTER_PORT", "9")  # discard port: nothing listens -> connection refused
    assert main(["printer-test"]) == 1
    assert "error: Printer" in capsys.readouterr().err


def test_pickup_scan_refuses_garbage(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TRUCK_POS_STORE_PATH", str(tmp_path / "t.db"))
    assert main(["pickup", "--scan", "not-a-code"]) == 1
    assert "Not a pickup code" in capsys.readouterr().out


def test_the_benchmark_script_runs():
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_printing.py"), "--rounds", "3"],
                         capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    assert "x floor" in run.stdout and "goal <= 10.0 ms" in run.stdout
