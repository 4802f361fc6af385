"""``truck-pos-admin provision``: give a new truck its id, broker login, ACL entry and key files.

Run by the owner on the machine that holds the broker's password and ACL files. It writes a
bundle directory for the truck (truck.ini, mqtt-password, claim.key, campaign_public.pem) to be
copied to the truck's /etc/truck_pos. Secrets go only into 0600 files: never to stdout or logs.
The owner's campaign PRIVATE key is refused; it stays with the owner.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import hashlib
import logging
import re
import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from truck_pos.errors import ConfigError, InvalidInput, TruckPosError
from truck_pos.keyfiles import CLAIM_KEY_BYTES, write_private_file

log = logging.getLogger(__name__)

TRUCK_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,30}[a-z0-9]$")
TRUCK_ETC = "/etc/truck_pos"
BUNDLE_FILES = {"config": "truck.ini", "password": "mqtt-password", "claim_key": "claim.key",
                "public_key": "campaign_public.pem"}


@dataclass(frozen=True)
class ProvisionRequest:
    """What the owner asks for; empty truck_id means: make one up."""

    out_dir: Path
    campaign_public_key: Path
    passwd_file: Path
    acl_file: Path
    dynsec_file: Path | None = None  # mosquitto dynamic-security document (sync/broker_acl.py): login, ACL, client id
    truck_id: str = ""
    name: str = ""
    timezone: str = "America/Chicago"
    broker_host: str = "localhost"
    broker_port: int = 1883
    tls: bool = False
    ca_file: str = ""
    force: bool = False
    printer: tuple[tuple[str, str], ...] = ()  # [printer] keys; empty: kind = none until detected on the truck


@dataclass(frozen=True)
class Provisioned:
    """Where everything went (paths only, nothing secret)."""

    truck_id: str
    bundle: Path
    files: dict[str, Path]
    hashed_with: str


def acl_lines(truck_id: str) -> list[str]:
    """Mosquitto ACL block: the truck writes only its up/ and status topics, reads only its down/."""
    base = f"tp/v1/trucks/{truck_id}"
    return [f"user {truck_id}", f"topic write {base}/up/#", f"topic write {base}/status", f"topic read {base}/down/#"]


def public_key_pem(path: Path) -> bytes:
    """The owner's Ed25519 public key as PEM; a private key or anything else is refused."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"campaign public key {path} cannot be read ({exc.strerror})") from exc
    if b"PRIVATE KEY" in data:
        raise InvalidInput(f"{path} is a PRIVATE key: give the public key; the private key stays with the owner")
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise InvalidInput(f"{path} is not a PEM public key") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise InvalidInput(f"{path} is not an Ed25519 key (campaigns are signed with Ed25519)")
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def mosquitto_hash(password: str, salt: bytes | None = None) -> str:
    """A mosquitto 2.x password-file hash ($7$: PBKDF2-SHA512, 101 iterations), like mosquitto_passwd."""
    salt = salt if salt is not None else secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, 101)
    return f"$7$101${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def set_broker_password(passwd_file: Path, user: str, password: str) -> str:
    """Add or replace ``user`` in the broker's password file; returns the tool that hashed it."""
    if not passwd_file.exists():
        write_private_file(passwd_file, b"")
    tool = shutil.which("mosquitto_passwd")
    if tool:
        # -b puts the password on mosquitto_passwd's command line for a moment: run provisioning
        # on the owner's machine, not on a shared host.
        done = subprocess.run([tool, "-b", str(passwd_file), user, password], capture_output=True, text=True)
        if done.returncode != 0:
            reason = (done.stderr or done.stdout).replace(password, "***").strip()
            raise ConfigError(f"mosquitto_passwd could not update {passwd_file}: {reason}")
        return "mosquitto_passwd"
    kept = [line for line in passwd_file.read_text("utf-8").splitlines() if not line.startswith(f"{user}:")]
    body = "\n".join([*kept, f"{user}:{mosquitto_hash(password)}"]) + "\n"
    write_private_file(passwd_file, body.encode("utf-8"), replace=True)
    return "python"


def add_acl_entry(acl_file: Path, truck_id: str) -> bool:
    """Append the truck's ACL block unless it is there already; True when appended."""
    existing = acl_file.read_text("utf-8") if acl_file.exists() else ""
    if f"user {truck_id}" in existing.splitlines():
        return False
    block = "\n".join([f"# truck {truck_id} (truck-pos-admin provision)", *acl_lines(truck_id)]) + "\n"
    sep = "" if not existing or existing.endswith("\n\n") else ("\n" if existing.endswith("\n") else "\n\n")
    acl_file.parent.mkdir(parents=True, exist_ok=True)
    with acl_file.open("a", encoding="utf-8") as out:
        out.write(sep + block)
    return True


def truck_ini(req: ProvisionRequest, truck_id: str) -> str:
    """The truck's config: its identity, the broker, and where its key files are on the truck."""
    etc = TRUCK_ETC
    return f"""\
# truck_pos config for {truck_id}, written by truck-pos-admin provision.
# Every key is documented in firmware_config/truck.ini.example. No secrets in here.
[truck]
id = {truck_id}
name = {req.name or truck_id}
timezone = {req.timezone}

[store]
path = /var/lib/truck_pos/truck.db

[mqtt]
enabled = true
host = {req.broker_host}
port = {req.broker_port}
username = {truck_id}
password_file = {etc}/{BUNDLE_FILES["password"]}
tls = {"true" if req.tls else "false"}
ca_file = {req.ca_file}

[security]
campaign_public_key_file = {etc}/{BUNDLE_FILES["public_key"]}
claim_key_file = {etc}/{BUNDLE_FILES["claim_key"]}

{printer_section(req.printer)}"""


def printer_section(keys: tuple[tuple[str, str], ...]) -> str:
    """The truck's ``[printer]``: what the owner gave, else none (the status bar then says so) and how to set it up."""
    if not keys:
        return ("[printer]\n# No printer yet: on the truck run `truck-pos-admin printer detect --write` with the\n"
                "# printer plugged in, then `truck-pos-admin printer test`.\nkind = none\n")
    return "[printer]\n" + "".join(f"{k} = {v}\n" for k, v in keys)


def printer_keys(kind: str, usb: str, serial_port: str, profile: str, paper_mm: int) -> tuple[tuple[str, str], ...]:
    """``[printer]`` keys from the provision options (``--printer-usb 04b8:0e15`` or ``--printer-serial PORT``)."""
    keys: list[tuple[str, str]] = []
    if usb:
        vid, _, pid = usb.partition(":")
        if not (re.fullmatch(r"[0-9a-fA-F]{4}", vid) and re.fullmatch(r"[0-9a-fA-F]{4}", pid)):
            raise InvalidInput(f"--printer-usb {usb!r}: give vendor:product as lsusb shows it, e.g. 04b8:0e15")
        keys += [("kind", "usb"), ("usb_vendor", f"0x{vid.lower()}"), ("usb_product", f"0x{pid.lower()}")]
    elif serial_port:
        keys += [("kind", "serial"), ("serial_port", serial_port)]
    elif kind and kind != "none":
        keys.append(("kind", kind))
    if keys:
        keys.append(("paper_mm", str(paper_mm)))
        if profile:
            keys.append(("profile", profile))
    return tuple(keys)


def _check(req: ProvisionRequest, truck_id: str) -> None:
    if not TRUCK_ID.match(truck_id):
        raise InvalidInput(f"truck id {truck_id!r}: use 3-32 lowercase letters, digits and dashes")
    if any(c in req.name for c in "\r\n"):
        raise InvalidInput("truck name must be one line")
    if req.force:
        return
    if (req.out_dir / truck_id).exists():
        raise InvalidInput(f"truck {truck_id} already has a bundle in {req.out_dir / truck_id}; "
                           "use --force to issue new credentials")
    if req.passwd_file.exists() and any(line.startswith(f"{truck_id}:") for line in req.passwd_file.read_text("utf-8").splitlines()):
        raise InvalidInput(f"truck {truck_id} already has a broker login in {req.passwd_file}; use --force to replace it")


def provision(req: ProvisionRequest) -> Provisioned:
    """Create the truck's bundle and broker entries (checks everything before writing anything)."""
    from truck_pos.config import load_settings

    truck_id = req.truck_id or f"truck-{secrets.token_hex(3)}"
    _check(req, truck_id)
    public_pem = public_key_pem(req.campaign_public_key)
    bundle = req.out_dir / truck_id
    bundle.mkdir(parents=True, exist_ok=True, mode=0o700)
    bundle.chmod(0o700)
    files = {k: bundle / name for k, name in BUNDLE_FILES.items()}
    files["config"].write_text(truck_ini(req, truck_id), "utf-8")
    files["config"].chmod(0o640)
    load_settings(files["config"], env={})  # what we wrote must load on the truck
    password = secrets.token_urlsafe(24)
    write_private_file(files["password"], (password + "\n").encode(), replace=True)
    write_private_file(files["claim_key"], secrets.token_bytes(CLAIM_KEY_BYTES), replace=True)
    files["public_key"].write_bytes(public_pem)
    files["public_key"].chmod(0o644)
    hashed_with = set_broker_password(req.passwd_file, truck_id, password)
    add_acl_entry(req.acl_file, truck_id)
    if req.dynsec_file is not None:
        from sync.broker_acl import add_truck

        add_truck(req.dynsec_file, truck_id, password)
    log.info("provisioned truck %s: bundle %s, broker login hashed with %s", truck_id, bundle, hashed_with)
    return Provisioned(truck_id, bundle, files, hashed_with)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--truck-id", default="", help="3-32 of a-z 0-9 - (default: truck-<random>)")
    p.add_argument("--name", default="", help="name on receipts (default: the id)")
    p.add_argument("--timezone", default="America/Chicago")
    p.add_argument("--campaign-public-key", required=True, type=Path, help="owner's Ed25519 public key (PEM)")
    p.add_argument("--out", type=Path, default=Path("provisioned"), help="bundles go to OUT/<truck-id>/")
    p.add_argument("--passwd-file", type=Path, help="broker password file (default: OUT/broker/passwd)")
    p.add_argument("--acl-file", type=Path, help="broker ACL file (default: OUT/broker/acl)")
    p.add_argument("--dynsec-file", type=Path, help="mosquitto dynamic-security JSON the fleet broker loads "
                   "(firmware_config/mosquitto/truck_pos_fleet.conf): the truck's login, ACL role and bound client id")
    p.add_argument("--broker-host", default="localhost")
    p.add_argument("--broker-port", type=int, default=1883)
    p.add_argument("--tls", action="store_true", help="connect with TLS (use port 8883)")
    p.add_argument("--ca-file", default="", help="CA bundle path on the truck, for --tls")
    p.add_argument("--force", action="store_true", help="issue new credentials for an existing truck")
    p.add_argument("--printer-usb", default="", metavar="VID:PID", help="the truck's USB receipt printer (lsusb ids)")
    p.add_argument("--printer-serial", default="", metavar="PORT", help="or its serial port, e.g. /dev/truckpos-printer")
    p.add_argument("--printer-kind", default="none", choices=("none", "dummy", "network"),
                   help="no printer yet (default: detect it on the truck), or dummy/network")
    p.add_argument("--printer-profile", default="", help="python-escpos profile, e.g. TM-T20II or POS-5890")
    p.add_argument("--paper-mm", type=int, choices=(58, 80), default=80)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("provision", help="create a truck's id, broker login, ACL entry and key files")
    add_arguments(p)
    p.set_defaults(handler=cmd_provision, needs_services=False)


def cmd_provision(args: argparse.Namespace, services: object = None) -> int:
    """Handler: provision, then print where things went (never a secret)."""
    req = ProvisionRequest(out_dir=args.out, campaign_public_key=args.campaign_public_key,
                           passwd_file=args.passwd_file or args.out / "broker" / "passwd",
                           acl_file=args.acl_file or args.out / "broker" / "acl", truck_id=args.truck_id,
                           name=args.name, timezone=args.timezone, broker_host=args.broker_host,
                           broker_port=args.broker_port, tls=args.tls, ca_file=args.ca_file, force=args.force,
                           printer=printer_keys(args.printer_kind, args.printer_usb, args.printer_serial,
                                                args.printer_profile, args.paper_mm))
    req = dataclasses.replace(req, dynsec_file=args.dynsec_file)
    done = provision(req)
    print(f"truck {done.truck_id} provisioned")
    print(f"  bundle for the truck: {done.bundle}/ ({', '.join(sorted(BUNDLE_FILES.values()))})")
    print(f"  broker login {done.truck_id} set in {req.passwd_file} ({done.hashed_with})")
    print(f"  broker ACL for tp/v1/trucks/{done.truck_id}/ in {req.acl_file}; reload the broker to apply")
    if req.dynsec_file is not None:
        print(f"  broker login, ACL role and client id truck-pos-{done.truck_id} in {req.dynsec_file}; reload the broker")
    print(f"  on the truck: sudo scripts/install-appliance --bundle {done.bundle}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``scripts/provision``: the same command without the admin CLI around it."""
    p = argparse.ArgumentParser(prog="provision", description=__doc__.splitlines()[0])
    add_arguments(p)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return cmd_provision(args)
    except (TruckPosError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
