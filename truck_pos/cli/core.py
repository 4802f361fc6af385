"""Core admin commands: init, demo menu, staff, orders, day totals."""

from __future__ import annotations

import argparse
import getpass
import json
from pathlib import Path

from truck_pos.bootstrap import Services
from truck_pos.domain.calendar import local
from truck_pos.domain.money import format_cents
from truck_pos.domain.reports import DayMoney
from truck_pos.services.menu import demo_menu


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("init", help="create or upgrade the database (loads the demo menu if empty)")
    p.set_defaults(handler=cmd_init)

    p = sub.add_parser("menu", help="load a menu file, or the demo menu")
    p.add_argument("file", nargs="?", help="menu JSON (default: the demo menu)")
    p.set_defaults(handler=cmd_menu, load_demo=False)

    p = sub.add_parser("sold-out", help="mark an item sold out (or back with --back)")
    p.add_argument("sku")
    p.add_argument("--back", action="store_true")
    p.set_defaults(handler=cmd_sold_out)

    p = sub.add_parser("staff", help="manage staff")
    ss = p.add_subparsers(dest="staff_command", required=True)
    a = ss.add_parser("add", help="add a staff member (PIN asked on the terminal, or --pin)")
    a.add_argument("name")
    a.add_argument("--role", choices=["staff", "manager"], default="staff")
    a.add_argument("--pin", help="4-8 digits (prefer the prompt: this ends up in shell history)")
    a.add_argument("--language", choices=["en", "es"], default="en", help="the register's language for this person")
    a.set_defaults(handler=cmd_staff_add)
    ls = ss.add_parser("list", help="list active staff")
    ls.set_defaults(handler=cmd_staff_list)

    p = sub.add_parser("orders", help="list recent orders")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_orders)

    p = sub.add_parser("totals", help="print a business day's totals")
    p.add_argument("--day", help="YYYY-MM-DD (default: today)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_totals)


def cmd_init(args: argparse.Namespace, s: Services) -> int:
    print(f"database ready: {s.settings.database_path} ({len(s.menu.items())} menu items)")
    return 0


def cmd_menu(args: argparse.Namespace, s: Services) -> int:
    document = json.loads(Path(args.file).read_text("utf-8")) if args.file else demo_menu()
    print(f"menu loaded: {s.menu.load(document)} items")
    return 0


def cmd_sold_out(args: argparse.Namespace, s: Services) -> int:
    s.menu.set_sold_out(args.sku, not args.back)
    print(f"{args.sku}: {'available' if args.back else 'sold out'}")
    return 0


def cmd_staff_add(args: argparse.Namespace, s: Services) -> int:
    pin = args.pin or getpass.getpass("PIN (4-8 digits): ")
    member = s.staff.add(args.name, pin, args.role, language=args.language)
    print(f"added {member.name} ({member.role})")
    return 0


def cmd_staff_list(args: argparse.Namespace, s: Services) -> int:
    for m in s.staff.list():
        print(f"{m.name:20} {m.role}")
    return 0


def cmd_orders(args: argparse.Namespace, s: Services) -> int:
    orders = s.register.recent_orders(args.limit)
    if args.json:
        print(json.dumps([{"uuid": o.uuid, "day": o.business_day, "number": o.number, "status": o.status,
                           "channel": o.channel, "total_cents": o.total_cents} for o in orders], indent=2))
        return 0
    tz = s.settings.truck.timezone
    for o in orders:
        print(f"{o.business_day} #{o.number:<4} {local(o.created_utc, tz):%H:%M} {o.status:12} {o.channel:8} {format_cents(o.total_cents):>10}")
    return 0


def cmd_totals(args: argparse.Namespace, s: Services) -> int:
    summary = s.register.day_summary(args.day)
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(f"Business day {summary['business_day']}")
    print(f"  orders      {summary['orders']:>10}")
    print(f"  sales       {format_cents(summary['sales_cents']):>10}")
    print(f"  tax         {format_cents(summary['tax_cents']):>10}")
    print(f"  discounts   {format_cents(summary['discount_cents']):>10}")
    for kind, cents in sorted(summary["by_tender"].items()):
        print(f"  {kind:<11} {format_cents(cents):>10}")
    print(f"  voided      {summary['voided']:>10}")
    print(f"  refunded    {summary['refunded']:>10}")
    print("  money (the nightly's labels)")
    for key, label in DayMoney.LABELS:
        value = summary["money"][key]
        print(f"    {label:<26} {format_cents(value) if key.endswith('cents') else value:>10}")
    return 0
