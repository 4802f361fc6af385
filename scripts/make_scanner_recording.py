"""Make (or record) the scanner byte streams under tests/data/scanner/.

    python scripts/make_scanner_recording.py synth                 # rebuild the committed recording
    python scripts/make_scanner_recording.py record /dev/truckpos-scanner --seconds 60 --out my.jsonl

Format: one JSON object per line, ``{"hex": <bytes as hex>}`` for one chunk as it arrived (the
scanner test writes each chunk to a pseudo-terminal in order). ``synth`` writes the chunk
patterns seen from serial scanners - CR, LF and CR LF endings, codes split over several reads,
line noise from a hot-plug, a binary burst, a half code cut off by a new one, a held phone
repeating the same code - around claim codes signed with the tests' fake key, and
``expected.json`` with what the scanner must hand on. ``record`` captures a real scanner.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from truck_pos.domain.claims import make_claim  # noqa: E402

FAKE_KEY = b"example-claim-key-not-a-secret!!"  # same fake key as tests/printing/receipt_samples.py
OUT = ROOT / "tests" / "data" / "scanner"


def synth() -> None:
    a = make_claim(FAKE_KEY, "truck-demo", date(2026, 6, 1), 7, "0d7a6c1e-2f3b-4a5c-8d9e-112233445566")
    b = make_claim(FAKE_KEY, "truck-demo", date(2026, 6, 1), 8, "5b3c1f0e-8a7d-4c2b-9e6f-0123456789ab")
    c = make_claim(FAKE_KEY, "truck-demo", date(2026, 6, 1), 9, "9f1e2d3c-4b5a-4968-8776-655443322110")
    ab, bb, cb = a.encode(), b.encode(), c.encode()
    chunks = [
        b"\x00\xff\xfe\r\n",            # hot-plug noise, then a line end
        ab + b"\r\n",                    # CR LF
        ab + b"\r\n",                    # the same phone held under the scanner: a repeat
        bb[:10], bb[10:33], bb[33:] + b"\r",  # split over three reads, CR only
        b"\n",                           # ...and the LF of a CR LF arriving in the next read
        b"hello world\n",                # a random QR code (not ours), LF only
        cb[:20] + b"\r\n",               # a half-read code (phone pulled away)
        cb + b"\n\n\r\n",                # the full code; blank lines are dropped
        b"\x1b[A\x80\x81garbage\r\n",    # binary burst
    ]
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "session.jsonl").write_text("".join(json.dumps({"hex": ch.hex()}) + "\n" for ch in chunks), "utf-8")
    expected = ["???", a, b, "hello world", c[:20], c, "?[A??garbage"]
    (OUT / "expected.json").write_text(json.dumps(expected, indent=1) + "\n", "utf-8")
    print(f"wrote {len(chunks)} chunks, {len(expected)} expected lines to {OUT}")


def record(port: str, seconds: float, out: Path) -> None:
    import serial

    with serial.Serial(port, 9600, timeout=0.1) as s, out.open("w", encoding="utf-8") as f:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            chunk = s.read(max(1, s.in_waiting))
            if chunk:
                f.write(json.dumps({"hex": chunk.hex()}) + "\n")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("synth")
    r = sub.add_parser("record")
    r.add_argument("port")
    r.add_argument("--seconds", type=float, default=60)
    r.add_argument("--out", type=Path, default=Path("scanner-recording.jsonl"))
    args = p.parse_args()
    synth() if args.cmd == "synth" else record(args.port, args.seconds, args.out)


if __name__ == "__main__":
    main()
