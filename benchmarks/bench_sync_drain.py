"""Drain N queued orders through the sync agent vs. raw paho publishing the same payloads (QoS 1).

Both publish to the same local mosquitto with the same in-flight window; the floor is raw paho
with everything already in memory. Prints both throughputs and the ratio (goal >= 0.8, stretch 0.9).

    python benchmarks/bench_sync_drain.py [--rows 10000] [--inflight 20]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import paho.mqtt.client as mqtt  # noqa: E402

from sync import protocol  # noqa: E402
from sync.agent import AgentConfig, SyncAgent  # noqa: E402
from sync.transport import BrokerLogin  # noqa: E402
from tests.mqtt_broker import MosquittoBroker  # noqa: E402
from truck_pos.clock import SystemClock  # noqa: E402
from truck_pos.store import outbox  # noqa: E402
from truck_pos.store.db import close_database, open_database  # noqa: E402
from truck_pos.store.outbox import Outbox  # noqa: E402

TRUCK = "bench-truck"


def order_body(i: int) -> dict:
    """An order payload of realistic size (~700 bytes as JSON)."""
    return {"order_id": f"bench-{i:06d}", "truck": TRUCK, "number": i, "business_day": "2026-06-01", "channel": "counter",
            "status": "paid", "paid_at": "2026-06-01T17:00:00+00:00", "stop": "Main St & 5th", "customer_ref": None,
            "staff": "Sam", "tax_mode": "exclusive", "subtotal_cents": 1245, "discount_cents": 0, "tax_cents": 103,
            "total_cents": 1348,
            "lines": [{"sku": "taco-fish", "name": "Baja Fish Taco", "quantity": 2, "unit_price_cents": 450, "modifiers": [],
                       "gross_cents": 900, "discount_cents": 0, "tax_cents": 74},
                      {"sku": "drink-horchata", "name": "Horchata", "quantity": 1, "unit_price_cents": 345,
                       "modifiers": [{"name": "Large", "price_cents": 0}], "gross_cents": 345, "discount_cents": 0, "tax_cents": 29}],
            "discounts": [], "tenders": [{"kind": "card", "amount_cents": 1348, "tendered_cents": 1348, "change_cents": 0}]}


def raw_paho(broker: MosquittoBroker, payloads: list[tuple[str, bytes]], inflight: int) -> float:
    """Seconds for plain paho to get PUBACKs for every payload."""
    done = threading.Event()
    acked = [0]

    def on_publish(client, userdata, mid, reason, properties):
        acked[0] += 1
        if acked[0] == len(payloads):
            done.set()

    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-raw", protocol=mqtt.MQTTv5)
    c.max_inflight_messages_set(inflight)
    c.on_publish = on_publish
    start = time.perf_counter()
    c.connect("127.0.0.1", broker.port)
    c.loop_start()
    for topic, payload in payloads:
        c.publish(topic, payload, qos=1)
    done.wait(600)
    elapsed = time.perf_counter() - start
    c.disconnect()
    c.loop_stop()
    return elapsed


def agent_drain(broker: MosquittoBroker, db_dir: Path, rows: int, inflight: int) -> float:
    """Seconds for the agent to drain ``rows`` queued outbox rows (all marked sent on PUBACK)."""
    db = open_database(db_dir / "truck.db")
    now = datetime.now(timezone.utc)
    with db.atomic():
        for i in range(rows):
            outbox.enqueue("order", order_body(i), now=now)
    config = AgentConfig(TRUCK, BrokerLogin("127.0.0.1", broker.port), max_inflight=inflight, reconnect_min_s=0.1)
    agent = SyncAgent(db, SystemClock(), config, poll_s=0.05)
    start = time.perf_counter()
    agent.start()
    while Outbox.select().where(Outbox.sent_utc.is_null()).exists():
        time.sleep(0.05)
    elapsed = time.perf_counter() - start
    agent.stop()
    close_database()
    return elapsed


def run(rows: int = 10_000, inflight: int = 20) -> dict[str, float]:
    """Measure both in one run against one broker; returns throughputs and the ratio."""
    with tempfile.TemporaryDirectory() as d:
        broker = MosquittoBroker(Path(d), persistence=False).start()
        try:
            now = datetime.now(timezone.utc)
            payloads = [(protocol.up_topic(TRUCK, "order"),
                         protocol.encode(protocol.envelope(truck=TRUCK, seq=i + 1, kind="order", key=f"k{i}", ts=now,
                                                           body=order_body(i)))) for i in range(rows)]
            raw_s = raw_paho(broker, payloads, inflight)
            agent_s = agent_drain(broker, Path(d), rows, inflight)
        finally:
            broker.kill()
    result = {"rows": rows, "inflight": inflight, "raw_msgs_per_s": rows / raw_s, "agent_msgs_per_s": rows / agent_s}
    result["ratio"] = result["agent_msgs_per_s"] / result["raw_msgs_per_s"]
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=10_000)
    p.add_argument("--inflight", type=int, default=20)
    p.add_argument("--repeat", type=int, default=3, help="runs; the median ratio is reported")
    args = p.parse_args()
    runs = sorted((run(args.rows, args.inflight) for _ in range(args.repeat)), key=lambda r: r["ratio"])
    for r in runs:
        print(f"rows {r['rows']}, window {r['inflight']}: raw paho QoS 1 {r['raw_msgs_per_s']:6.0f} msg/s, "
              f"agent drain {r['agent_msgs_per_s']:6.0f} msg/s, ratio {r['ratio']:.2f}")
    print(f"median ratio {runs[len(runs) // 2]['ratio']:.2f}  (goal >= 0.8, stretch 0.9)")


if __name__ == "__main__":
    main()
