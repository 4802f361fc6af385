"""``truck-pos-hub`` commands for reach: ``audience import``, ``campaign schedule``, ``reach report``, and the
scheduler that ``truck-pos-hub run --reach-config FILE`` starts next to ingest."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sync.hub.messaging import audiences, campaigns, report, unsubscribe
from sync.hub.messaging.config import ReachConfigError, load_code_key, load_reach_config
from sync.hub.messaging.document import CampaignError, truck_document
from sync.hub.messaging.scheduler import Scheduler
from truck_pos.errors import InvalidInput

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the reach commands to the hub's parser (each sets ``reach_handler``)."""
    a = sub.add_parser("audience", help="contact lists for campaign segments")
    asub = a.add_subparsers(dest="audience_command", required=True)
    imp = asub.add_parser("import", help="import a CSV (name, email, phone, handle; Facebook/X exports) into a group")
    imp.add_argument("file", type=Path)
    imp.add_argument("--group", required=True, help="the group the campaign's audiences name, e.g. fb-likers-2026-06")
    imp.add_argument("--handle-kind", choices=("x", "facebook"), default="x", help="what a plain 'handle' column is")
    imp.add_argument("--consent", default="", help="channels these people agreed to, e.g. email,sms (you hold the proof)")
    imp.add_argument("--wording", default="", help="version of the consent text they agreed to")
    imp.set_defaults(reach_handler=cmd_import)
    c = sub.add_parser("campaign", help="campaign messages")
    csub = c.add_subparsers(dest="campaign_command", required=True)
    s = csub.add_parser("schedule", help="check a campaign document (with messages) and schedule its sends")
    s.add_argument("file", type=Path)
    s.add_argument("--timezone", default="UTC", help="for times without an offset, when the document names none")
    s.add_argument("--sign-key", help="owner's private key: also write the trucks' signed bundle (messages stripped)")
    s.add_argument("--bundle-out", type=Path, help="where to write that bundle (publish it with publish-campaign)")
    s.set_defaults(reach_handler=cmd_schedule)
    r = sub.add_parser("reach", help="what campaign messages reached and brought")
    rsub = r.add_subparsers(dest="reach_command", required=True)
    rep = rsub.add_parser("report", help="sent/delivered/failed/unsubscribed/redeemed/revenue per segment x channel x variant")
    rep.add_argument("campaign")
    rep.add_argument("--csv", type=Path)
    rep.add_argument("--png", type=Path, help="directory for the chart")
    rep.set_defaults(reach_handler=cmd_report)


def add_run_options(run_parser: argparse.ArgumentParser) -> None:
    """``run --reach-config FILE``: also run the send scheduler in this hub process."""
    run_parser.add_argument("--reach-config", type=Path, help="reach settings (JSON): send campaign messages from this process")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def cmd_import(args: argparse.Namespace) -> int:
    try:
        data = args.file.read_bytes()
        consent = tuple(c.strip() for c in args.consent.split(",") if c.strip())
        result = audiences.import_csv(data, args.group, handle_kind=args.handle_kind, consent=consent,
                                      source=f"csv:{args.file.name}"[:80], wording_version=args.wording, now=_now())
    except OSError as exc:
        print(f"error: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 1
    except InvalidInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(result.summary())
    for line, reason in result.refused[:200]:
        print(f"  refused line {line}: {reason}")
    for line, who in result.merged[:200]:
        print(f"  merged line {line} into profile {who}")
    return 0


def cmd_schedule(args: argparse.Namespace) -> int:
    try:
        document = json.loads(args.file.read_text("utf-8"))
        doc = campaigns.schedule(document, _now(), args.timezone)
        if args.sign_key and args.bundle_out:
            from truck_pos.domain.bundle import sign_bundle

            args.bundle_out.write_bytes(sign_bundle(truck_document(document), load_code_key(args.sign_key)))
            print(f"trucks' bundle (messages stripped) written to {args.bundle_out}")
    except OSError as exc:
        print(f"error: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 1
    except (ValueError, CampaignError, ReachConfigError) as exc:
        print(f"error: {args.file}: {exc}", file=sys.stderr)
        return 1
    print(f"campaign {doc.campaign.id}: {len(doc.messages)} messages")
    for m in doc.messages:
        when = m.due_at.isoformat(timespec="minutes") if m.due_at else "when the customer comes near"
        arms = "/".join(f"{v.name}{v.split}%" for v in m.variants if v.name) or "-"
        print(f"  {m.id:28} {m.segment:20} {m.channel:9} {arms:10} {when}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    rows, tests = report.build(args.campaign)
    print(report.render_table(rows, tests), end="")
    for channel, text in report.copy_texts(args.campaign):
        print(f"\n--- copy this text ({channel}) ---\n{text}\n---")
    if args.csv:
        args.csv.write_text(report.render_csv(rows), "utf-8")
        print(f"CSV written to {args.csv}")
    if args.png:
        print(f"chart written to {report.render_png(rows, args.campaign, args.png)}")
    return 0


def start(args: argparse.Namespace, publish: Callable[[str, str, dict[str, Any], str], Any]) -> Callable[[], None] | None:
    """For ``run``: start the scheduler and the consent publisher when ``--reach-config`` is given; returns a stopper."""
    if not getattr(args, "reach_config", None):
        return None
    try:
        config = load_reach_config(args.reach_config)
        scheduler = Scheduler(config).start()
    except (ReachConfigError, ValueError, OSError) as exc:
        raise SystemExit(f"error: reach settings: {exc}") from None
    done = threading.Event()

    def publish_consents() -> None:
        while not done.wait(config.poll_s * 4):
            try:
                unsubscribe.publish_pending(publish, _now())
            except Exception:  # noqa: BLE001 - retried on the next round (not connected yet, database busy)
                log.exception("could not publish consent changes to the trucks")

    thread = threading.Thread(target=publish_consents, name="reach-consent", daemon=True)
    thread.start()
    print(f"reach: {config.workers} send worker(s), channels {', '.join(sorted(config.channels)) or 'none'}")

    def stop() -> None:
        done.set()
        scheduler.stop()
        thread.join(5)

    return stop
