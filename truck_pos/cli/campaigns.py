"""Campaign admin commands: load/inspect bundles on the truck, owner-side keys/signing/codes, reports."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (Encoding, NoEncryption, PrivateFormat, PublicFormat,
                                                          load_pem_private_key)

from truck_pos.bootstrap import Services
from truck_pos.domain.calendar import local
from truck_pos.domain.bundle import BundleRefused, key_id, sign_bundle
from truck_pos.domain.campaign import parse_campaign
from truck_pos.domain.codes import PersonalCode, issue_personal_code
from truck_pos.errors import InvalidInput
from truck_pos.services.reports import render_csv, render_png, render_table


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("campaign", help="campaign bundles, owner keys and personal codes")
    cs = p.add_subparsers(dest="campaign_command", required=True)
    a = cs.add_parser("load", help="verify and activate a signed campaign bundle file")
    a.add_argument("file")
    a.set_defaults(handler=cmd_load)
    a = cs.add_parser("status", help="show the active campaign, its codes and goal progress")
    a.set_defaults(handler=cmd_status)
    a = cs.add_parser("keygen", help="owner: make an Ed25519 key pair (keep the private key off the truck)")
    a.add_argument("--out", default=".", help="directory for campaign_owner.key and campaign_owner.pub.pem")
    a.set_defaults(handler=cmd_keygen)
    a = cs.add_parser("sign", help="owner: validate a campaign JSON document and write a signed bundle")
    a.add_argument("document")
    a.add_argument("--key", required=True, help="the owner's private key (PEM)")
    a.add_argument("-o", "--output", required=True, help="bundle file to write")
    a.set_defaults(handler=cmd_sign)
    a = cs.add_parser("code", help="owner/cloud: issue a signed personal code (text, optional QR PNG)")
    a.add_argument("--key", required=True)
    a.add_argument("--campaign", required=True)
    a.add_argument("--segment", required=True)
    a.add_argument("--customer", required=True)
    a.add_argument("--truck", default="", help="only valid at this truck (default: any)")
    a.add_argument("--qr", help="also write the code as a QR PNG here")
    a.set_defaults(handler=cmd_code)

    a = cs.add_parser("unique-codes", help="owner: add N single-use codes to a segment of a campaign JSON document")
    a.add_argument("document", help="campaign JSON document (rewritten with the hashed codes; sign it afterwards)")
    a.add_argument("--segment", required=True)
    a.add_argument("--count", type=int, required=True)
    a.add_argument("--codes-out", required=True, help="CSV of the codes to hand out (kept off the truck)")
    a.set_defaults(handler=cmd_unique_codes)

    p = sub.add_parser("report", help="sales by product x segment, channels, goal and groups for a day or the campaign")
    p.add_argument("--day", help="business day YYYY-MM-DD (default: today)")
    p.add_argument("--campaign", action="store_true", help="the active campaign's days instead of one day")
    p.add_argument("--csv", help="also write the figures as CSV to this file ('-' for stdout only)")
    p.add_argument("--png", help="also write charts (sales by segment, goal window) into this directory")
    p.set_defaults(handler=cmd_report)


def cmd_load(args: argparse.Namespace, s: Services) -> int:
    try:
        raw = Path(args.file).read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {args.file}: {exc.strerror}") from None
    result = s.campaigns.install_bundle(raw, source="file")
    print(("accepted: " if result.accepted else "refused: ") + result.reason)
    return 0 if result.accepted else 1


def cmd_status(args: argparse.Namespace, s: Services) -> int:
    campaign = s.campaigns.active_campaign()
    tz = s.settings.truck.timezone
    for later in s.campaigns.upcoming():
        print(f"upcoming: {later.name} ({later.id}, version {later.version}) starts {local(later.valid_from_utc, tz):%Y-%m-%d %H:%M}")
    if campaign is None:
        print("no active campaign")
        return 0
    print(f"{campaign.name} ({campaign.id}, version {campaign.version}) {local(campaign.valid_from_utc, tz):%Y-%m-%d %H:%M} .. "
          f"{local(campaign.valid_until_utc, tz):%Y-%m-%d %H:%M} {tz}" + (" [stacking]" if campaign.stacking else ""))
    for seg in campaign.segments:
        limits = ", ".join(x for x in (f"{seg.total_uses} uses" if seg.total_uses else "",
                                       f"{seg.uses_per_customer}/customer" if seg.uses_per_customer else "") if x)
        print(f"  {seg.name:20} {seg.channel:10} {seg.code or '(personal codes)':16} {seg.benefit.describe():14} "
              f"until {local(seg.valid_until_utc, tz):%m-%d %H:%M} {limits}")
    progress = s.reports.goal_progress()
    if progress:
        print(progress.line())
    return 0


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def cmd_keygen(args: argparse.Namespace, s: Services) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    private, public = out / "campaign_owner.key", out / "campaign_owner.pub.pem"
    if private.exists() or public.exists():
        raise InvalidInput(f"{private} or {public} already exists; move it away first")
    key = Ed25519PrivateKey.generate()
    _write_private(private, key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    public.write_bytes(key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    print(f"key {key_id(key.public_key())}: private {private} (keep it off the truck), public {public} "
          f"(set [security] campaign_public_key_file on each truck)")
    return 0


def _private_key(path: str) -> Ed25519PrivateKey:
    try:
        key = load_pem_private_key(Path(path).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise InvalidInput(f"{path} is not a readable unencrypted PEM private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InvalidInput(f"{path} is not an Ed25519 key")
    return key


def cmd_sign(args: argparse.Namespace, s: Services) -> int:
    try:
        document = json.loads(Path(args.document).read_text("utf-8"))
        parse_campaign(document, s.settings.truck.timezone)
    except OSError as exc:
        raise InvalidInput(f"cannot read {args.document}: {exc.strerror}") from None
    except (ValueError, BundleRefused) as exc:
        raise InvalidInput(f"{args.document}: {exc}") from None
    Path(args.output).write_bytes(sign_bundle(document, _private_key(args.key)))
    print(f"signed bundle for campaign {document['id']} written to {args.output}")
    return 0


def cmd_code(args: argparse.Namespace, s: Services) -> int:
    code = issue_personal_code(PersonalCode(args.campaign, args.segment, args.customer, args.truck), _private_key(args.key))
    print(code)
    if args.qr:
        import qrcode

        qrcode.make(code).save(args.qr)
        print(f"QR written to {args.qr}", file=sys.stderr)
    return 0


def cmd_unique_codes(args: argparse.Namespace, s: Services) -> int:
    import secrets

    from truck_pos.domain.campaign import normalize
    from truck_pos.domain.codeset import MAX_UNIQUE_CODES, encode_codes, make_codes

    if not 1 <= args.count <= MAX_UNIQUE_CODES:
        raise InvalidInput(f"--count must be 1 to {MAX_UNIQUE_CODES}")
    try:
        document = json.loads(Path(args.document).read_text("utf-8"))
        segment = next(seg for seg in document["segments"] if seg.get("name") == args.segment)
    except OSError as exc:
        raise InvalidInput(f"cannot read {args.document}: {exc.strerror}") from None
    except (ValueError, KeyError, TypeError, StopIteration):
        raise InvalidInput(f"{args.document} is not a campaign document with a segment {args.segment!r}") from None
    codes = make_codes(args.count, secrets.choice)
    segment["unique_codes"] = encode_codes(document["id"], [normalize(c) for c in codes])
    _write_private(Path(args.codes_out), ("code\n" + "\n".join(codes) + "\n").encode("ascii"))
    Path(args.document).write_text(json.dumps(document, indent=1), "utf-8")
    print(f"{len(codes)} single-use codes for segment {args.segment}: hashes in {args.document}, codes in {args.codes_out}")
    return 0


def cmd_report(args: argparse.Namespace, s: Services) -> int:
    report = s.reports.campaign_report() if args.campaign else s.reports.day_report(args.day)
    if args.csv == "-":
        sys.stdout.write(render_csv(report))
        return 0
    print(render_table(report), end="")
    if args.csv:
        Path(args.csv).write_text(render_csv(report), "utf-8")
        print(f"CSV written to {args.csv}")
    if args.png:
        for path in render_png(report, args.png):
            print(f"chart written to {path}")
    return 0
