"""Hub ack lag during a 10,000-message drain: from the broker's PUBACK of seq N to the hub's ack covering N.

An independent truck (raw paho, QoS 1, window 20) publishes N envelopes; the hub runs in its own
process (``truck-pos-hub run``). The truck records when each seq was PUBACKed and when each ack
(retained, ``down/ack``) arrived; lag(N) = first ack with through_seq >= N minus PUBACK(N). The
floor is the same path with nothing to store: the broker's delivery of a message to a plain
subscriber and back (round trip), measured in the same run.

    python benchmarks/bench_sync_acks.py [--rows 10000] [--db sqlite:///... | postgresql://...]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import paho.mqtt.client as mqtt  # noqa: E402

from benchmarks.bench_sync_drain import order_body  # noqa: E402
from benchmarks.bench_sync_ringup import percentile  # noqa: E402
from devtools.local_broker import MosquittoBroker  # noqa: E402
from sync import protocol  # noqa: E402

TRUCK = "bench-truck"


def drain_with_acks(port: int, rows: int, inflight: int = 20) -> list[float]:
    """Publish ``rows`` envelopes; returns the ack lag (ms) of every seq."""
    puback_by_mid: dict[int, float] = {}
    acked_at: list[tuple[float, int]] = []
    mids: dict[int, int] = {}
    done = threading.Event()

    def on_publish(c, u, mid, reason, props):
        # Never take a lock here: paho calls this holding its own, which publish() also needs.
        puback_by_mid[mid] = time.perf_counter()

    def on_message(c, u, m):
        through = json.loads(m.payload)["body"]["through_seq"]
        acked_at.append((time.perf_counter(), through))
        if through >= rows:
            done.set()

    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"truck-pos-{TRUCK}", protocol=mqtt.MQTTv5)
    c.max_inflight_messages_set(inflight)
    c.on_publish, c.on_message = on_publish, on_message
    c.connect("127.0.0.1", port)
    c.loop_start()
    c.subscribe(protocol.down_topic(TRUCK, "ack"), qos=1)
    time.sleep(0.5)
    now = datetime.now(timezone.utc)
    for seq in range(1, rows + 1):
        payload = protocol.encode(protocol.envelope(truck=TRUCK, seq=seq, kind="order", key=f"ack-bench-{seq}", ts=now,
                                                    body=order_body(seq)))
        info = c.publish(protocol.up_topic(TRUCK, "order"), payload, qos=1)
        mids[info.mid] = seq  # one connection and fewer than 65,535 messages: mids are unique
    done.wait(300)
    c.disconnect()
    c.loop_stop()
    pubacked = {mids[mid]: t for mid, t in puback_by_mid.items() if mid in mids}
    lags, i = [], 0
    for seq in sorted(pubacked):
        while i < len(acked_at) and acked_at[i][1] < seq:
            i += 1
        if i < len(acked_at):
            lags.append((acked_at[i][0] - pubacked[seq]) * 1000)
    return lags


def round_trip(port: int, n: int = 500) -> list[float]:
    """The floor: publish QoS 1 to a topic we subscribe to; ms until it comes back."""
    got: dict[int, float] = {}
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-floor", protocol=mqtt.MQTTv5)
    c.on_message = lambda cl, u, m: got.__setitem__(int(m.payload), time.perf_counter())
    c.connect("127.0.0.1", port)
    c.loop_start()
    c.subscribe("bench/floor", qos=1)
    time.sleep(0.3)
    sent = {}
    for i in range(n):
        sent[i] = time.perf_counter()
        c.publish("bench/floor", str(i).encode(), qos=1)
        time.sleep(0.002)
    time.sleep(1)
    c.disconnect()
    c.loop_stop()
    return [(got[i] - sent[i]) * 1000 for i in sent if i in got]


def run(rows: int = 10_000, db: str = "") -> dict[str, float]:
    if db:  # an empty hub database for every run
        from sync.hub.models import HUB_MODELS, open_hub_database

        open_hub_database(db).drop_tables(HUB_MODELS, safe=True)
    with tempfile.TemporaryDirectory() as d:
        broker = MosquittoBroker(Path(d), persistence=False).start()
        hub = subprocess.Popen([sys.executable, "-m", "sync.hub.cli", "--db", db or f"sqlite:///{d}/hub.db",
                                "--host", "127.0.0.1", "--port", str(broker.port), "--client-id", "bench-hub", "run"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(2)
            floor = round_trip(broker.port)
            lags = drain_with_acks(broker.port, rows)
        finally:
            hub.terminate()
            hub.wait(10)
            broker.kill()
    return {"rows": rows, "acked_seqs": len(lags), "lag_p50_ms": percentile(lags, 50), "lag_p95_ms": percentile(lags, 95),
            "lag_max_ms": max(lags), "floor_p95_ms": percentile(floor, 95)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=10_000)
    p.add_argument("--db", default="", help="hub database URL (default: SQLite in a temp dir)")
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    print("| run | acked seqs | ack lag p50 ms | p95 ms | max ms | floor (broker round trip) p95 ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for n in range(1, args.repeat + 1):
        r = run(args.rows, args.db)
        print(f"| {n} | {r['acked_seqs']} | {r['lag_p50_ms']:.0f} | {r['lag_p95_ms']:.0f} | {r['lag_max_ms']:.0f} | "
              f"{r['floor_p95_ms']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
