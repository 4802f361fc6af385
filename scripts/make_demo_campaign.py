#!/usr/bin/env python3
"""Make a signed demo campaign bundle (and, if missing, an owner key pair) for trying codes on a truck.

    python scripts/make_demo_campaign.py --keys ~/truck-owner-keys --out demo.bundle [--today]

``--today`` moves the demo campaign's dates to today (truck time zone given by --timezone), so
the codes work right away. The committed document is tests/data/campaigns/demo_campaign.json.
Then on the truck: set [security] campaign_public_key_file to <keys>/campaign_owner.pub.pem and
run ``truck-pos-admin campaign load demo.bundle``.
"""

from __future__ import annotations

import argparse
import json
import os
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (Encoding, NoEncryption, PrivateFormat, PublicFormat,
                                                          load_pem_private_key)

from truck_pos.domain.bundle import sign_bundle
from truck_pos.domain.campaign import parse_campaign

DOC = Path(__file__).resolve().parent.parent / "tests" / "data" / "campaigns" / "demo_campaign.json"


def owner_key(directory: Path) -> Ed25519PrivateKey:
    private = directory / "campaign_owner.key"
    if private.exists():
        return load_pem_private_key(private.read_bytes(), password=None)  # type: ignore[return-value]
    directory.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    (directory / "campaign_owner.pub.pem").write_bytes(key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    return key


def shift_to_today(doc: dict, tz: str) -> dict:
    """Move every date in the document by whole days so the campaign starts today."""
    start = datetime.fromisoformat(doc["valid_from"]).date()
    days = (datetime.now(ZoneInfo(tz)).date() - start).days
    move = lambda text: (datetime.fromisoformat(text) + timedelta(days=days)).isoformat(timespec="minutes")  # noqa: E731
    doc["valid_from"], doc["valid_until"] = move(doc["valid_from"]), move(doc["valid_until"])
    now = datetime.now(ZoneInfo("UTC"))
    doc["issued_at"] = now.isoformat(timespec="seconds").replace("+00:00", "Z")
    doc["version"] = int(now.timestamp())  # each run signs a newer version: a truck refuses a repeat with other dates
    for seg in doc["segments"]:
        for k in ("valid_from", "valid_until"):
            if k in seg:
                seg[k] = move(seg[k])
    return doc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keys", required=True, help="directory holding (or to receive) the owner's key pair")
    ap.add_argument("--out", required=True, help="bundle file to write")
    ap.add_argument("--today", action="store_true")
    ap.add_argument("--timezone", default="America/Chicago")
    args = ap.parse_args()
    doc = json.loads(DOC.read_text("utf-8"))
    if args.today:
        doc = shift_to_today(doc, args.timezone)
    parse_campaign(doc, args.timezone)  # refuse to sign what a truck would refuse
    Path(args.out).write_bytes(sign_bundle(doc, owner_key(Path(args.keys))))
    print(f"wrote {args.out} (campaign {doc['id']}, {doc['valid_from']} .. {doc['valid_until']})")


if __name__ == "__main__":
    main()
