"""The serial scanner over a real pseudo-terminal: pyserial opens the slave, the test types on the master."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from truck_pos.devices.scanner import LineSplitter, SerialScanner, parse_terminator
from truck_pos.errors import DeviceUnavailable

DATA = Path(__file__).resolve().parent.parent / "data" / "scanner"
TIMEOUT = 5.0


class Pty:
    """A pseudo-terminal whose slave is reachable through a stable symlink (like /dev/truckpos-scanner)."""

    def __init__(self, link: Path):
        self.link = link
        self.plug()

    def plug(self) -> None:
        self.master, slave = os.openpty()
        path = os.ttyname(slave)
        os.close(slave)  # pyserial opens its own handle on the slave path
        tmp = self.link.with_suffix(".new")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(path)
        tmp.replace(self.link)

    def write(self, data: bytes) -> None:
        os.write(self.master, data)

    def unplug(self) -> None:
        os.close(self.master)


@pytest.fixture
def pty_scanner(tmp_path):
    pty = Pty(tmp_path / "truckpos-scanner")
    now = [0.0]
    scanner = SerialScanner(str(pty.link), baudrate=9600, terminator=b"\r\n", repeat_window_s=3.0,
                            reconnect_s=0.05, monotonic=lambda: now[0])
    scanner.start()
    assert scanner.wait_connected(TIMEOUT)
    yield pty, scanner, now
    scanner.stop()
    try:
        pty.unplug()
    except OSError:
        pass


def read_all(scanner: SerialScanner, count: int) -> list[str]:
    lines = []
    for _ in range(count):
        line = scanner.read(TIMEOUT)
        assert line is not None, f"only {lines} arrived"
        lines.append(line)
    return lines


def test_the_recorded_session_arrives_as_decoded_lines(pty_scanner):
    pty, scanner, _ = pty_scanner
    expected = json.loads((DATA / "expected.json").read_text("utf-8"))
    for record in map(json.loads, (DATA / "session.jsonl").read_text("utf-8").splitlines()):
        pty.write(bytes.fromhex(record["hex"]))
    assert read_all(scanner, len(expected)) == expected
    assert scanner.read(0.2) is None  # the held-phone repeat was dropped, blank lines too


def test_a_repeat_counts_again_after_the_window(pty_scanner):
    pty, scanner, now = pty_scanner
    pty.write(b"CODE-A\r\nCODE-A\r\nCODE-B\r\n")
    assert read_all(scanner, 2) == ["CODE-A", "CODE-B"]
    pty.write(b"CODE-B\r\n")
    now[0] = 10.0
    pty.write(b"CODE-B\n")  # the first of these two was a repeat; ten seconds later it is a new scan
    assert read_all(scanner, 1) == ["CODE-B"]
    assert scanner.read(0.2) is None


def test_unplug_is_reported_and_the_scanner_comes_back(pty_scanner):
    pty, scanner, now = pty_scanner
    pty.write(b"BEFORE\r\n")
    assert read_all(scanner, 1) == ["BEFORE"]
    pty.unplug()
    with pytest.raises(DeviceUnavailable, match="unplugged"):
        for _ in range(100):
            scanner.read(0.05)
    assert scanner.state.startswith("Scanner unplugged")
    pty.plug()
    assert scanner.wait_connected(TIMEOUT) and scanner.state == "ok"
    now[0] = 100.0
    pty.write(b"AFTER\r\n")
    assert read_all(scanner, 1) == ["AFTER"]


def test_a_missing_port_is_a_state_not_a_crash(tmp_path):
    scanner = SerialScanner(str(tmp_path / "nothing-here"), reconnect_s=0.05)
    scanner.start()
    try:
        with pytest.raises(DeviceUnavailable):
            for _ in range(100):
                scanner.read(0.05)
        assert "unplugged" in scanner.state
    finally:
        scanner.stop()


def test_line_splitting_handles_every_ending_and_a_custom_terminator():
    s = LineSplitter(parse_terminator("\\x03"))
    assert s.feed(b"A\rB\nC\r\nD\x03E") == ["A", "B", "C", "D"]
    assert s.feed(b"F\x03") == ["EF"]
    assert parse_terminator("\\r\\n") == b"\r\n"
    assert LineSplitter().feed(b"x" * 600) == ["x" * 512]  # no terminator ever: flushed, never unbounded


def test_a_receipt_claim_typed_by_the_scanner_hands_the_order_over(pty_scanner, wired, roll, ring_up):
    from escpos_decode import decode

    pty, scanner, now = pty_scanner
    paid = ring_up("taco-fish")
    wired.printing.run_once()
    claim = decode(roll.jobs[0]).qr_payloads[0].encode()
    pty.write(b"\xff\x00junk\r\n" + claim[:25])
    pty.write(claim[25:] + b"\r\n")
    lines = read_all(scanner, 2)
    now[0] = 50.0  # a minute later the customer shows the code again
    pty.write(claim + b"\n")
    results = [wired.pickup.scan(line) for line in lines + read_all(scanner, 1)]
    assert [r.outcome for r in results] == ["refused", "handed_over", "already_collected"]
    assert results[1].card.number == paid.order_number


def test_noise_left_without_a_line_ending_does_not_swallow_the_next_scan(tmp_path):
    """Over a real pty: half a code and noise, a pause (on the scanner's clock), then a real scan arriving whole."""
    pty = Pty(tmp_path / "truckpos-scanner")
    now, calls = [0.0], [0]

    def monotonic() -> float:  # the reader asks once per chunk it takes off the port: a way to know it has read
        calls[0] += 1
        return now[0]

    scanner = SerialScanner(str(pty.link), reconnect_s=0.05, monotonic=monotonic)
    scanner.start()
    try:
        assert scanner.wait_connected(TIMEOUT)
        pty.write(b"\x1b[noise TP1.TRUCK-DEMO.2026")  # no terminator: a scanner that gave up mid-code
        seen = calls[0]
        for _ in range(500):  # wait until the reader has taken the bytes and gone round again
            if calls[0] >= seen + 4:  # a read may take the bytes in two chunks; then idle reads
                break
            scanner.read(0.01)
        now[0] = 5.0  # five seconds later on the scanner's clock, the next customer's code
        pty.write(b"CODE-AFTER\r\n")
        assert read_all(scanner, 2) == ["?[noise TP1.TRUCK-DEMO.2026", "CODE-AFTER"]
    finally:
        scanner.stop()
        pty.unplug()
