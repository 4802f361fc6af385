"""Campaign reach: scheduled sends/s through the SMTP adapter vs raw smtplib, and proximity -> message latency.

1. SMTP: the same local aiosmtpd server (its own process) receives N emails twice: from a raw ``smtplib`` loop
   (one connection, an EmailMessage built per person: the floor) and from the hub's scheduler (claims from the
   hub database, consent check, Jinja render, personal code signed, SmtpChannel, one commit per send).
   Ratio = scheduler sends/s / raw sends/s (goal >= 0.8). Runs are interleaved; the median of ``--rounds`` ratios.
   Paired: the paths alternate every batch (100 messages): raw smtplib sends 100 on its connection, then 100 of
   the same size as the scheduler's (its headers, a body as long; ``raw_message``), then the scheduler's
   ``run_once`` (what a worker thread calls in its loop: claim, send, commit) handles 100, and so on, so a burst of
   load from the machine's other jobs falls on all alike; ratio = raw time / scheduler time over all blocks (and
   the median of the per-block ratios), against each floor. The original floor's emails are 245 bytes, the
   scheduler's ~700.
2. Proximity: proximity envelopes go through ``Hub.ingest`` (what the MQTT callback calls) with the scheduler's
   threads running; latency = ingest call -> the push endpoint has decrypted the message. p50/p95 (goal p95 <= 5 s).

    python benchmarks/bench_reach.py [--sends 1000] [--events 40] [--db sqlite|postgresql://...] [--workers N | --processes N]
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import formatdate
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import smtplib  # noqa: E402

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from sync import protocol  # noqa: E402
from sync.hub import Hub, HubConfig  # noqa: E402
from sync.hub import customers as cu  # noqa: E402
from sync.hub.messaging import audiences, campaigns  # noqa: E402
from sync.hub.messaging.config import ReachConfig  # noqa: E402
from sync.hub.messaging.manners import mint_ahead  # noqa: E402
from sync.hub.messaging.scheduler import Scheduler  # noqa: E402
from tests.reach.db import fresh_database  # noqa: E402
from tests.reach.seed import schedule_bulk, seed_people  # noqa: E402
from tests.reach.servers import HttpSink, free_port  # noqa: E402
from tests.reach.world import vapid_pem  # noqa: E402


WIRE = compat32.clone(linesep="\r\n")


def _smtp_server(port: int, ready, count) -> None:
    """A counting aiosmtpd server in its own process (so it does not share a GIL with the sender)."""
    from aiosmtpd.controller import Controller

    class Counter:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            with count.get_lock():
                count.value += 1
            return "250 OK"

    Controller(Counter(), hostname="127.0.0.1", port=port).start()
    ready.set()
    time.sleep(10**6)


CODE_LIKE = "TP1-" + "A" * 205  # a personal code's length (4 fields + 64-byte signature, base32)


def raw_message(i: int, same_size: bool = False) -> bytes:
    """The floor's email to person i: 245 bytes (the original floor), or ``same_size``: the scheduler's
    headers (Date, List-Unsubscribe) and a body as long as its (a personal code's length, the unsubscribe
    line), ~700 bytes, nothing signed or looked up."""
    if same_size:
        body = f"Hi P{i}, your code is {CODE_LIKE}.\n\nUnsubscribe: https://hub.test/u/{i}.{i:024x}\n"
    else:
        body = f"Hi P{i}, your code is BULK-1.\n"
    msg = MIMEText(body, "plain", "us-ascii")
    msg["From"], msg["To"], msg["Subject"] = "Truck <hello@truck.test>", f"person{i}@example.com", f"Hello P{i}"
    if same_size:
        msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = f"<raw-{i}@truck.test>"
    if same_size:
        msg["List-Unsubscribe"] = f"<https://hub.test/u/{i}.{i:024x}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return msg.as_bytes(policy=WIRE)


def raw_smtplib(port: int, n: int) -> float:
    """Seconds for plain smtplib to send n personal emails over one connection."""
    start = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        for i in range(n):
            smtp.sendmail("hello@truck.test", [f"person{i}@example.com"], raw_message(i))
    return time.perf_counter() - start


def scheduled(db_url: str, port: int, n: int, workers: int = 1, plan: bool = True) -> float:
    """Seconds for the scheduler's worker threads to send n scheduled emails, from the first claim to the last commit
    (the personal codes minted ahead first, untimed, unless ``plan`` is false; ``paired`` times that step)."""
    db = fresh_database(db_url)
    now = datetime(2026, 6, 1, 12, tzinfo=timezone.utc)
    seed_people(n, now)
    schedule_bulk(now)
    config = ReachConfig(secret=b"s" * 32, code_key=Ed25519PrivateKey.generate(), lease_s=60, batch=100, workers=workers,
                         poll_s=0.01, channels={"email": {"host": "127.0.0.1", "port": port, "sender": "Truck <hello@truck.test>"}})
    scheduler = Scheduler(config)
    if plan:
        scheduler.plan()  # the night before
    scheduler._expand_due("bench")  # the job becomes n rows (not timed: that happens when the message comes due)
    start = time.perf_counter()
    scheduler.start()
    while scheduler.sent < n and time.perf_counter() - start < 600:
        time.sleep(0.005)
    elapsed = time.perf_counter() - start
    scheduler.stop()
    db.close()
    return elapsed


def paired(db_url: str, port: int, n: int, block: int = 100, plan: str = "alternate") -> dict:
    """Raw smtplib and the scheduler's run_once alternating in blocks of ``block`` messages (see the module doc).

    ``plan``: whose personal codes are minted ahead (what ``Scheduler.plan`` does the night before): "all", "none",
    or "alternate": the people of every other block, so the same run times sends with a code minted ahead
    ("minted" blocks) and sends signing it ("signed" blocks) side by side. Minting is timed on its own (``plan_s``,
    per code ``plan_us``); the minted blocks' ``ratio_with_plan`` counts it as if it were spent in their send window. ``cpu_*``: the
    thread's CPU seconds, which the other sessions' load disturbs less than wall time."""
    db = fresh_database(db_url)
    now = datetime(2026, 6, 1, 12, tzinfo=timezone.utc)
    seed_people(n, now)
    schedule_bulk(now)
    config = ReachConfig(secret=b"s" * 32, code_key=Ed25519PrivateKey.generate(), lease_s=60, batch=block, workers=1,
                         poll_s=0.01, channels={"email": {"host": "127.0.0.1", "port": port, "sender": "Truck <hello@truck.test>"}})
    scheduler = Scheduler(config)
    doc = campaigns.campaign_doc("bulk")
    segment = doc.messages[0].segment
    people = audiences.members(doc.audiences[segment], now)  # in the order the rows are made and claimed
    ahead = {"all": people, "none": [],
             "alternate": [c for b in range(0, n, 2 * block) for c in people[b:b + block]]}[plan]
    t = time.perf_counter()
    planned = mint_ahead(doc, segment, ahead, config.code_key)  # what plan() does, for these people only
    plan_s = time.perf_counter() - t
    if planned != len(ahead):
        raise RuntimeError(f"minted {planned} codes ahead for {len(ahead)} people")
    scheduler._expand_due("bench")  # as in scheduled(): the job becomes n rows before the clock starts
    channels = config.make_channels()
    smtp = None
    total = {k: {"raw": 0.0, "same": 0.0, "sched": 0.0, "cpu_raw": 0.0, "cpu_sched": 0.0, "n": 0} for k in ("minted", "signed")}
    ratios = []
    try:
        for start in range(0, n, block):
            kind = "minted" if plan == "all" or (plan == "alternate" and start // block % 2 == 0) else "signed"
            t0, c0 = time.perf_counter(), time.thread_time()
            smtp = smtp or smtplib.SMTP("127.0.0.1", port, timeout=10)
            for i in range(start, min(n, start + block)):
                smtp.sendmail("hello@truck.test", [f"person{i}@example.com"], raw_message(i))
            t1, c1 = time.perf_counter(), time.thread_time()
            for i in range(start, min(n, start + block)):
                smtp.sendmail("hello@truck.test", [f"person{i}@example.com"], raw_message(i, same_size=True))
            t2, c2 = time.perf_counter(), time.thread_time()
            done = scheduler.run_once(channels, "bench")
            t3, c3 = time.perf_counter(), time.thread_time()
            if done != min(block, n - start):
                raise RuntimeError(f"the scheduler handled {done} rows of a block of {min(block, n - start)}")
            tot = total[kind]
            tot["raw"] += t1 - t0
            tot["same"] += t2 - t1
            tot["sched"] += t3 - t2
            tot["cpu_raw"] += c1 - c0
            tot["cpu_sched"] += c3 - c2
            tot["n"] += done
            ratios.append((t1 - t0) / (t3 - t2))
    finally:
        if smtp is not None:
            smtp.quit()
        for ch in channels.values():
            ch.close()
        db.close()
    if scheduler.sent != n:
        raise RuntimeError(f"the scheduler sent {scheduler.sent} of {n}")
    raw_s, same_s, sched_s = (sum(t[k] for t in total.values()) for k in ("raw", "same", "sched"))
    out = {"raw_per_s": n / raw_s, "scheduler_per_s": n / sched_s, "ratio": raw_s / sched_s, "block_median": statistics.median(ratios),
           "same_size_per_s": n / same_s, "same_size_ratio": same_s / sched_s, "plan": plan, "plan_s": plan_s,
           "plan_us": plan_s / max(1, len(ahead)) * 1e6}
    for kind, t in total.items():
        if t["n"]:
            out[kind] = {"ratio": t["raw"] / t["sched"], "same_size_ratio": t["same"] / t["sched"], "sends": t["n"],
                         "cpu_raw_us": t["cpu_raw"] / t["n"] * 1e6, "cpu_sched_us": t["cpu_sched"] / t["n"] * 1e6}
    if "minted" in out:  # the minting of these blocks' codes counted as if it were done in the send window
        t = total["minted"]
        out["minted"].update(ratio_with_plan=t["raw"] / (t["sched"] + plan_s), same_size_ratio_with_plan=t["same"] / (t["sched"] + plan_s))
    return out


def scheduled_processes(db_url: str, port: int, n: int, processes: int, count) -> float:
    """Seconds from the first to the last delivery when ``processes`` ``truck-pos-hub run`` processes share n sends."""
    import json
    import subprocess

    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    db = fresh_database(db_url)
    now = datetime(2026, 6, 1, 12, tzinfo=timezone.utc)
    seed_people(n, now)
    schedule_bulk(now)
    db.close()
    root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory() as d:
        key = Path(d) / "code.key"
        key.write_bytes(Ed25519PrivateKey.generate().private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
        settings = Path(d) / "reach.json"
        settings.write_text(json.dumps({"secret_file": "s", "code_key_file": str(key), "workers": 1, "lease_s": 60, "batch": 100,
                                        "poll_s": 0.01, "email": {"host": "127.0.0.1", "port": port, "sender": "T <h@t.test>"}}))
        start_count = count.value
        cmd = [sys.executable, "-m", "sync.hub.cli", "--db", db_url, "--port", str(free_port()), "run", "--reach-config", str(settings)]
        procs = [subprocess.Popen([*cmd[:7], "--client-id", f"bench-{i}", *cmd[7:]], cwd=root, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL) for i in range(processes)]
        try:
            give_up = time.perf_counter() + 120
            while count.value == start_count:
                if time.perf_counter() > give_up or any(p.poll() is not None for p in procs):
                    raise RuntimeError("the hub processes did not start sending")
                time.sleep(0.001)
            first = time.perf_counter()
            end = first + 600
            while count.value - start_count < n and time.perf_counter() < end:
                time.sleep(0.002)
            return (time.perf_counter() - first) * n / max(1, n - 1)
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(30)


def smtp_ratio(db_url: str, n: int, rounds: int, workers: int = 1, processes: int = 0, pair: bool = True,
               plan: str = "alternate") -> dict:
    port = free_port()
    ready, count = multiprocessing.Event(), multiprocessing.Value("i", 0)
    server = multiprocessing.Process(target=_smtp_server, args=(port, ready, count), daemon=True)
    server.start()
    ready.wait(120)
    raw, sched, ratios, pairs = [], [], [], []
    try:
        for _ in range(rounds):  # interleaved, so both see the same machine load
            raw.append(n / raw_smtplib(port, n))
            elapsed = scheduled_processes(db_url, port, n, processes, count) if processes else scheduled(db_url, port, n, workers, plan != "none")
            sched.append(n / elapsed)
            ratios.append(sched[-1] / raw[-1])
            if pair and not processes and workers == 1:
                pairs.append(paired(db_url, port, n, plan=plan))
    finally:
        server.terminate()
    return {"sends": n, "workers": workers, "processes": processes, "raw_per_s": statistics.median(raw), "scheduler_per_s": statistics.median(sched),
            "ratio": statistics.median(ratios), "ratios": ratios, "paired": pairs}


def proximity_latency(db_url: str, events: int, gap_s: float = 0.05) -> dict:
    """Ingest ``events`` proximity envelopes with the scheduler running; latency to the decrypted push."""
    db = fresh_database(db_url)
    now = datetime.now(timezone.utc)
    hub = Hub(HubConfig())
    with HttpSink() as http:
        for i in range(events):
            c, _ = cu.upsert_profile({"truck_ref": f"c-{i}"}, f"N{i}", now=now)
            b = http.browser(f"p{i}")
            cu.add_push_subscription(c, b.endpoint, b.p256dh, b.auth_b64)
            cu.record_consent(c, "push", True, source="bench", at=now)
        doc = {"format": 1, "id": "near", "name": "Near", "issued_at": now.isoformat(), "timezone": "UTC",
               "valid_from": (now - timedelta(hours=1)).isoformat(), "valid_until": (now + timedelta(hours=2)).isoformat(),
               "segments": [{"name": "nearby_devices", "channel": "proximity", "benefit": {"kind": "percent_off", "percent": 15}}],
               "messages": [{"id": "near-push", "segment": "nearby_devices", "channel": "push", "trigger": "proximity",
                             "subject": "Close by", "template": "{{ first_name }}: {{ code }}"}]}
        campaigns.schedule(doc, now)
        config = ReachConfig(secret=b"s" * 32, code_key=Ed25519PrivateKey.generate(), workers=2, poll_s=0.25, lease_s=20,
                             channels={"push": {"vapid_private_key": vapid_pem(), "subject": "mailto:o@truck.test", "timeout": 5}})
        scheduler = Scheduler(config).start()
        started = {}
        for i in range(events):
            body = {"event_key": f"e-{i}", "truck": "t1", "customer_ref": f"c-{i}", "segment": "nearby_devices",
                    "campaign_id": "near", "source": "truck_scan", "first_seen": now.isoformat()}
            env = protocol.envelope(truck="t1", seq=i + 1, kind="proximity", key=f"p-{i}", ts=now, body=body)
            started[f"/push/p{i}"] = time.perf_counter()
            hub.ingest(protocol.up_topic("t1", "proximity"), protocol.encode(env))
            time.sleep(gap_s)
        end = time.monotonic() + 60
        while len(http.requests) < events and time.monotonic() < end:
            time.sleep(0.01)
        scheduler.stop()
        latencies = sorted(r.received - started[r.path] for r in http.requests)
    db.close()
    q = statistics.quantiles(latencies, n=20) if len(latencies) >= 2 else latencies * 19
    return {"events": events, "delivered": len(latencies), "p50_s": statistics.median(latencies), "p95_s": q[18]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sends", type=int, default=1000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--workers", type=int, default=1, help="scheduler worker threads (each its own SMTP connection)")
    p.add_argument("--events", type=int, default=40)
    p.add_argument("--db", default="sqlite", help="sqlite (a temp file) or a PostgreSQL URL")
    p.add_argument("--processes", type=int, default=0, help="instead of threads here: N truck-pos-hub run processes (PostgreSQL)")
    p.add_argument("--plan", choices=("alternate", "all", "none"), default="alternate",
                   help="paired timing: whose personal codes are minted ahead (alternate: every other block's people)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as d:
        url = f"sqlite:///{d}/hub.db" if args.db == "sqlite" else args.db
        smtp = smtp_ratio(url, args.sends, args.rounds, args.workers, args.processes, plan=args.plan)
        who = f"{args.processes} hub processes" if args.processes else f"{args.workers} worker(s)"
        print(f"SMTP, {smtp['sends']} sends, {who}: raw smtplib {smtp['raw_per_s']:.0f}/s, scheduler "
              f"{smtp['scheduler_per_s']:.0f}/s, ratio {smtp['ratio']:.2f} (median of {', '.join(f'{r:.2f}' for r in smtp['ratios'])};"
              " goal >= 0.8)")
        for i, pr in enumerate(smtp["paired"], 1):
            print(f"  paired round {i}: raw smtplib {pr['raw_per_s']:.0f}/s, scheduler {pr['scheduler_per_s']:.0f}/s, "
                  f"ratio {pr['ratio']:.2f} (median block {pr['block_median']:.2f}); same-size floor "
                  f"{pr['same_size_per_s']:.0f}/s, ratio {pr['same_size_ratio']:.2f}")
            for kind in ("minted", "signed"):
                if kind in pr:
                    k = pr[kind]
                    print(f"    {k['sends']} sends, codes {kind + ' ahead' if kind == 'minted' else 'signed when sent'}: ratio "
                          f"{k['ratio']:.2f}, same-size {k['same_size_ratio']:.2f}; CPU per send raw {k['cpu_raw_us']:.0f} us, "
                          f"scheduler {k['cpu_sched_us']:.0f} us")
            if "minted" in pr:
                k = pr["minted"]
                print(f"    minting ahead (the night before): {pr['plan_s'] * 1e3:.0f} ms, {pr['plan_us']:.0f} us a code; "
                      f"counted in the minted sends' window their ratio would be {k['ratio_with_plan']:.2f} "
                      f"(same-size {k['same_size_ratio_with_plan']:.2f})")
        if smtp["paired"]:
            print(f"SMTP paired, 1 worker: ratio {statistics.median(p['ratio'] for p in smtp['paired']):.2f}, "
                  f"against the same-size floor {statistics.median(p['same_size_ratio'] for p in smtp['paired']):.2f} "
                  f"(medians of {len(smtp['paired'])} rounds; goal >= 0.8)")
            for kind in ("minted", "signed"):
                got = [p[kind] for p in smtp["paired"] if kind in p]
                if got:
                    each = ", ".join(f"{k['ratio']:.2f}" for k in got)
                    print(f"  codes {kind}: ratio median {statistics.median(k['ratio'] for k in got):.2f} ({each}), "
                          f"same-size median {statistics.median(k['same_size_ratio'] for k in got):.2f}")
        prox = proximity_latency(url, args.events)
        print(f"proximity -> push, {prox['delivered']}/{prox['events']} delivered: p50 {prox['p50_s']:.2f} s, "
              f"p95 {prox['p95_s']:.2f} s (goal p95 <= 5 s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
