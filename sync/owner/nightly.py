"""The owner's nightly routine: pull the day from the hub database, reconcile truck <-> hub, report.

``truck-pos-owner nightly --hub-db sqlite:///hub.db --day 2026-06-01 --truck-db truck-01=/backups/truck-01.db``
prints a table, writes ``summary.csv`` and ``summary.json`` and, with ``--post URL``, sends the
summary to the owner's HTTPS endpoint (retries with backoff, a timeout, a clear error).
Reconciling lists what is missing on either side: gaps in a truck's sequence numbers at the hub,
and, given a copy of the truck's database, every outbox row the hub lacks and vice versa.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sqlite3
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

import requests
from requests.adapters import HTTPAdapter
from tqdm import tqdm
from urllib3.util.retry import Retry

from sync.hub import spends
from sync.hub.figures import truck_day_money
from sync.hub.models import HubMessage, open_hub_database
from truck_pos.domain.reports import DayMoney
from truck_pos.errors import SyncUnavailable, TruckPosError

log = logging.getLogger(__name__)

LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


@dataclass
class TruckDay:
    """One truck's day as the hub saw it, reconciled with the truck's own outbox when available."""

    truck: str
    hub_messages: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    orders: int = 0
    sales_cents: int = 0
    mobile_orders: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)  # ingested but refused: seq + reason
    seq_gaps: list[list[int]] = field(default_factory=list)  # [first, last] seqs the hub never got
    truck_rows: int | None = None  # None: no truck database given
    missing_on_hub: list[dict[str, Any]] = field(default_factory=list)
    missing_on_truck: list[str] = field(default_factory=list)
    money: dict[str, int] = field(default_factory=dict)  # DayMoney: gross, discounts, voids, refunds, net, tax
    double_spends: list[dict[str, Any]] = field(default_factory=list)  # flagged at the hub, with both orders

    @property
    def reconciled(self) -> bool:
        return not (self.seq_gaps or self.missing_on_hub or self.missing_on_truck)


def day_window(day: date, tz: str) -> tuple[datetime, datetime]:
    """The UTC start and end of a local calendar day."""
    zone = ZoneInfo(tz)
    start = datetime.combine(day, time(0), zone)
    return start.astimezone(timezone.utc), (start + timedelta(days=1)).astimezone(timezone.utc)


def pull_day(start_utc: datetime, end_utc: datetime, trucks: Sequence[str] = (), *, progress: bool | None = None) -> dict[str, TruckDay]:
    """Read the day's envelopes from the hub database, per truck (all trucks when none named)."""
    query = HubMessage.select().where(HubMessage.ts_utc >= start_utc, HubMessage.ts_utc < end_utc)
    rejected = HubMessage.select().where(HubMessage.status == "rejected", HubMessage.received_utc >= start_utc,
                                         HubMessage.received_utc < end_utc)
    if trucks:
        query, rejected = query.where(HubMessage.truck.in_(trucks)), rejected.where(HubMessage.truck.in_(trucks))
    days: dict[str, TruckDay] = {t: TruckDay(t) for t in trucks}
    seqs: dict[str, list[int]] = defaultdict(list)
    kinds: dict[str, Counter[str]] = defaultdict(Counter)
    total = query.count()
    for m in tqdm(query.order_by(HubMessage.truck, HubMessage.seq).iterator(), total=total, desc="hub messages",
                  unit="msg", disable=_no_bar(progress)):
        day = days.setdefault(m.truck, TruckDay(m.truck))
        day.hub_messages += 1
        kinds[m.truck][m.kind] += 1
        seqs[m.truck].append(m.seq)
        if m.kind == "order":
            day.mobile_orders += m.body.get("channel") == "mobile"
    for m in rejected:
        days.setdefault(m.truck, TruckDay(m.truck)).rejected.append({"seq": m.seq, "id": m.key, "reason": m.reason})
        seqs[m.truck].append(m.seq)
    flags = spends.flagged(start_utc, end_utc)
    for truck, day in days.items():
        day.by_kind = dict(sorted(kinds[truck].items()))
        day.seq_gaps = gaps(seqs[truck])
        money = truck_day_money(truck, start_utc, end_utc)
        day.money = asdict(money)
        day.orders, day.sales_cents = money.orders, money.net_cents  # net of discounts, voids and refunds
        day.double_spends = [f for f in flags if truck in (f["first"]["truck"], f["second"]["truck"])]
    return days


def gaps(seqs: Iterable[int]) -> list[list[int]]:
    """[first, last] ranges missing between the lowest and highest seq seen."""
    ordered = sorted(set(seqs))
    return [[a + 1, b - 1] for a, b in zip(ordered, ordered[1:]) if b > a + 1]


def truck_outbox(path: Path, start_utc: datetime, end_utc: datetime) -> dict[str, dict[str, Any]]:
    """The truck's own outbox rows of the day, from a copy of its SQLite file (opened read-only)."""
    if not path.is_file():
        raise TruckPosError(f"truck database {path} not found")
    uri = f"file:{path.resolve()}?mode=ro"
    with sqlite3.connect(uri, uri=True) as con:
        rows = con.execute("SELECT key, seq, kind FROM outbox WHERE created_utc >= ? AND created_utc < ?",
                           (_iso(start_utc), _iso(end_utc))).fetchall()
    return {key: {"seq": seq, "kind": kind, "id": key} for key, seq, kind in rows}


def reconcile(day: TruckDay, truck_rows: dict[str, dict[str, Any]], hub_keys: set[str]) -> TruckDay:
    """Fill in what each side has that the other lacks."""
    day.truck_rows = len(truck_rows)
    day.missing_on_hub = sorted((r for k, r in truck_rows.items() if k not in hub_keys), key=lambda r: r["seq"])
    day.missing_on_truck = sorted(hub_keys - set(truck_rows))
    return day


def hub_keys(truck: str, start_utc: datetime, end_utc: datetime) -> set[str]:
    return {k for (k,) in HubMessage.select(HubMessage.key).where(
        HubMessage.truck == truck, HubMessage.ts_utc >= start_utc, HubMessage.ts_utc < end_utc).tuples()}


# --- reports -----------------------------------------------------------------------------
def summary(day: date, days: dict[str, TruckDay]) -> dict[str, Any]:
    """The JSON document written to summary.json and posted to the owner's endpoint."""
    trucks = [dict(asdict(d), reconciled=d.reconciled) for d in sorted(days.values(), key=lambda d: d.truck)]
    return {"day": day.isoformat(), "trucks": trucks,
            "double_spends": [f for f in _unique(d.double_spends for d in days.values())],
            "fleet": {"orders": sum(d.orders for d in days.values()), "sales_cents": sum(d.sales_cents for d in days.values()),
                      "messages": sum(d.hub_messages for d in days.values()),
                      "all_reconciled": all(d.reconciled for d in days.values())}}


def _unique(groups: Iterable[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for group in groups:
        for f in group:
            seen.setdefault(f["second"]["order_id"] + f["code"], f)
    return list(seen.values())


def write_reports(doc: dict[str, Any], out_dir: Path) -> list[Path]:
    """summary.json (everything) and summary.csv (one row per truck and kind)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, csv_path = out_dir / "summary.json", out_dir / "summary.csv"
    json_path.write_text(json.dumps(doc, indent=2), "utf-8")
    with csv_path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["day", "truck", "kind", "messages", "orders", "sales_cents", "missing_on_hub", "missing_on_truck", "seq_gaps"])
        for t in doc["trucks"]:
            for kind, count in (t["by_kind"] or {"-": 0}).items():
                w.writerow([doc["day"], t["truck"], kind, count, t["orders"] if kind == "order" else "",
                            t["sales_cents"] if kind == "order" else "", len(t["missing_on_hub"]),
                            len(t["missing_on_truck"]), ";".join(f"{a}-{b}" for a, b in t["seq_gaps"])])
    return [json_path, csv_path]


def format_table(doc: dict[str, Any]) -> str:
    """A fixed-width table for the terminal."""
    lines = [f"Day {doc['day']}", f"{'truck':<16}{'msgs':>7}{'orders':>8}{'net':>12}{'mobile':>8}  reconciliation"]
    for t in doc["trucks"]:
        if t["reconciled"]:
            state = "ok" if t["truck_rows"] is not None else "ok (no seq gaps; no truck copy given)"
        else:
            state = (f"hub lacks {len(t['missing_on_hub'])}, truck lacks {len(t['missing_on_truck'])}, "
                     f"seq gaps {t['seq_gaps'][:3]}{'...' if len(t['seq_gaps']) > 3 else ''}")
        lines.append(f"{t['truck']:<16}{t['hub_messages']:>7}{t['orders']:>8}{t['sales_cents'] / 100:>12.2f}"
                     f"{t['mobile_orders']:>8}  {state}")
        money = t["money"]
        lines.append(f"{'':<16}" + ", ".join(f"{label} {money[k] / 100:.2f}" if k.endswith("cents") else f"{label} {money[k]}"
                                              for k, label in DayMoney.LABELS if k in money))
        for f in t["double_spends"]:
            lines.append(f"{'':<16}DOUBLE SPEND {f['code'][:24]} ({f['holder'][:24]}): {f['first']['truck']} order "
                         f"{f['first']['order_id']} and {f['second']['truck']} order {f['second']['order_id']}")
        if t["rejected"]:
            lines.append(f"{'':<16}{len(t['rejected'])} message(s) refused at the hub, e.g. seq {t['rejected'][0]['seq']}: "
                         f"{t['rejected'][0]['reason']}")
    return "\n".join(lines)


# --- HTTPS export ------------------------------------------------------------------------
def post_summary(url: str, doc: dict[str, Any], *, token: str = "", retries: int = 4, backoff_s: float = 0.5,
                 timeout_s: float = 10.0, session: requests.Session | None = None) -> int:
    """POST the summary as JSON; retries connection errors and 429/5xx with exponential backoff.

    Returns the HTTP status. Raises SyncUnavailable with a sentence the owner can act on.
    """
    parsed = urlparse(url)
    if parsed.scheme != "https" and not (parsed.scheme == "http" and parsed.hostname in LOCAL_HOSTS):
        raise SyncUnavailable(f"refusing to post the summary to {url}: use an https:// address")
    session = session or requests.Session()
    retry = Retry(total=retries, connect=retries, read=retries, status=retries, backoff_factor=backoff_s,
                  status_forcelist=(429, 500, 502, 503, 504), allowed_methods=frozenset({"POST"}), raise_on_status=False)
    session.mount(f"{parsed.scheme}://", HTTPAdapter(max_retries=retry))
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = session.post(url, json=doc, headers=headers, timeout=timeout_s)
    except requests.exceptions.Timeout as exc:
        raise SyncUnavailable(f"{parsed.hostname} did not answer within {timeout_s:g} s ({retries} retries); try again later") from exc
    except requests.exceptions.ConnectionError as exc:
        raise SyncUnavailable(f"could not reach {parsed.hostname} after {retries} retries: check the address and the network") from exc
    except requests.exceptions.RequestException as exc:
        raise SyncUnavailable(f"posting the summary to {parsed.hostname} failed: {exc}") from exc
    if response.status_code >= 400:
        raise SyncUnavailable(f"{parsed.hostname} refused the summary: HTTP {response.status_code} "
                              f"{response.reason or ''} {response.text[:200]!r}".strip())
    return response.status_code


# --- command line ------------------------------------------------------------------------
def run_nightly(args: argparse.Namespace) -> int:
    """The ``nightly`` command; returns 0 when every truck reconciles, 3 when something is missing."""
    open_hub_database(args.hub_db)
    day = date.fromisoformat(args.day) if args.day else (datetime.now(ZoneInfo(args.tz)) - timedelta(days=1)).date()
    start, end = day_window(day, args.tz)
    copies = dict(_truck_db_arg(v) for v in args.truck_db)
    days = pull_day(start, end, sorted(set(args.truck) | set(copies)), progress=args.progress)
    for truck, path in tqdm(copies.items(), desc="reconcile", unit="truck", disable=_no_bar(args.progress)):
        reconcile(days[truck], truck_outbox(path, start, end), hub_keys(truck, start, end))
    doc = summary(day, days)
    paths = write_reports(doc, Path(args.out))
    print(format_table(doc))
    print("wrote " + ", ".join(str(p) for p in paths))
    if args.post:
        token = Path(args.token_file).read_text("utf-8").strip() if args.token_file else ""
        status = post_summary(args.post, doc, token=token, retries=args.retries, timeout_s=args.timeout)
        print(f"posted to {urlparse(args.post).hostname}: HTTP {status}")
    return 0 if doc["fleet"]["all_reconciled"] else 3


def _truck_db_arg(value: str) -> tuple[str, Path]:
    truck, sep, path = value.partition("=")
    if not sep or not truck or not path:
        raise TruckPosError(f"--truck-db wants TRUCK=PATH, got {value!r}")
    return truck, Path(path)


def _iso(when: datetime) -> str:
    return when.astimezone(timezone.utc).isoformat(timespec="microseconds")


def _no_bar(progress: bool | None) -> bool | None:
    return None if progress is None else not progress  # None: tqdm shows a bar only on a terminal


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="truck-pos-owner", description="The owner's tools: nightly sync and reports.")
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="command", required=True)
    n = sub.add_parser("nightly", help="pull the day from the hub, reconcile truck <-> hub, write and post the summary")
    n.add_argument("--hub-db", default="sqlite:///hub.db", help="hub database URL (sqlite:///... or postgresql://...)")
    n.add_argument("--day", help="YYYY-MM-DD (default: yesterday in --tz)")
    n.add_argument("--tz", default="UTC", help="time zone that defines the day, e.g. America/Chicago")
    n.add_argument("--truck", action="append", default=[], help="only this truck (repeatable; default: the fleet)")
    n.add_argument("--truck-db", action="append", default=[], metavar="TRUCK=PATH",
                   help="a copy of a truck's database to reconcile against (repeatable)")
    n.add_argument("--out", default="nightly", help="directory for summary.csv and summary.json")
    n.add_argument("--post", metavar="URL", help="HTTPS endpoint to POST the summary to")
    n.add_argument("--token-file", help="file holding a bearer token for --post")
    n.add_argument("--retries", type=int, default=4)
    n.add_argument("--timeout", type=float, default=10.0, help="seconds per HTTP attempt")
    n.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None, help="force the progress bar on/off")
    n.set_defaults(handler=run_nightly)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point ``truck-pos-owner``."""
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.handler(args))
    except TruckPosError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
