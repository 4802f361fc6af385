#!/usr/bin/env python3
"""Print the token sequence a test device advertises: one line per slot, ready to compare with a phone app.

Usage:
  python scripts/ble_token_sequence.py --secret HEX [--start 2026-06-01T17:00:00Z] [--count 6]
                                       [--slot-s 300] [--measured-power -59] [--json]
  python scripts/ble_token_sequence.py --device-id cust-000   # the fake secret of a generated test device

Never pass a real customer's secret on a shared machine: it lands in shell history.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from truck_pos.domain.tokens import DEFAULT_SLOT_S, SERVICE_UUID, derive_token, encode_service_data, slot_of  # noqa: E402


def sequence(secret: bytes, start: datetime, count: int, slot_s: int, measured_power: int | None) -> list[dict]:
    """``count`` consecutive slots from the one containing ``start``."""
    first = slot_of(start.timestamp(), slot_s)
    out = []
    for slot in range(first, first + count):
        token = derive_token(secret, slot)
        out.append({"slot": slot, "from_utc": datetime.fromtimestamp(slot * slot_s, timezone.utc).isoformat(),
                    "token": token.hex(), "service_data": encode_service_data(token, measured_power).hex()})
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--secret", help="the device secret, hex (>= 16 bytes)")
    who.add_argument("--device-id", help="a simulated street phone (scripts/gen_ble_streets.py)")
    p.add_argument("--start", default=None, help="ISO-8601 UTC instant (default: now)")
    p.add_argument("--count", type=int, default=6)
    p.add_argument("--slot-s", type=int, default=DEFAULT_SLOT_S)
    p.add_argument("--measured-power", type=int, default=None, help="calibrated RSSI at 1 m, dBm (optional byte)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    if args.device_id:
        from gen_ble_streets import street_secret as test_secret  # same folder

        secret = test_secret(args.device_id)
    else:
        try:
            secret = bytes.fromhex(args.secret)
        except ValueError:
            p.error("--secret must be hex")
        if len(secret) < 16:
            p.error("--secret must be at least 16 bytes")
    start = datetime.fromisoformat(args.start.replace("Z", "+00:00")) if args.start else datetime.now(timezone.utc)
    if start.tzinfo is None:
        p.error("--start needs a time zone, e.g. 2026-06-01T17:00:00Z")
    rows = sequence(secret, start, args.count, args.slot_s, args.measured_power)
    if args.json:
        print(json.dumps({"service_uuid": SERVICE_UUID, "slot_s": args.slot_s, "tokens": rows}, indent=2))
    else:
        print(f"service UUID {SERVICE_UUID}, slot {args.slot_s} s")
        for r in rows:
            print(f"{r['from_utc']}  slot {r['slot']}  token {r['token']}  service data {r['service_data']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
