"""200 customers ordering at once through the customer page, against ``truck-pos-hub run --web``.

The hub runs as its own process (ingest + web, uvicorn) on PostgreSQL (``--db``, default
$TRUCK_POS_TEST_PG) with a real mosquitto; a local Stripe stand-in creates the checkouts. Each
customer (an asyncio task with its own httpx client and address, as Caddy would forward it): GET the
truck page, POST the order, the provider's signed webhook (sent twice, as Stripe may retry), GET
the order page. Afterwards: every order paid once, one mobile order row each, and a spy logged in as
the truck receives each order id exactly once. The floor is the same server's static stylesheet.

    python benchmarks/bench_web.py [--customers 200] [--db postgresql://...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
import paho.mqtt.client as mqtt  # noqa: E402

from sync import protocol  # noqa: E402
from sync.hub.models import HubMobileOrder  # noqa: E402
from sync.hub.web.models import HubWebOrder  # noqa: E402
from sync.hub.web.orders import remember_menu  # noqa: E402
from tests.mqtt_broker import FLEET_ACL, MosquittoBroker, free_port  # noqa: E402
from tests.web.fake_stripe import API_KEY, WEBHOOK_SECRET, completed_event, stripe_header  # noqa: E402
from tests.web.support import MENU, fresh_hub_db  # noqa: E402
from truck_pos.clock import SystemClock  # noqa: E402

PASSWORDS = {"hub": "hub-bench-pw", "truck-a": "truck-a-bench-pw"}


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


class Spy:
    """Logged in as the truck: counts every mobile order that comes down."""

    def __init__(self, broker: MosquittoBroker):
        self.ids: list[str] = []
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-spy", protocol=mqtt.MQTTv5)
        self.client.username_pw_set("truck-a", PASSWORDS["truck-a"])
        self.client.on_message = lambda c, u, m: self.ids.append(json.loads(m.payload)["body"]["order_id"])
        self.client.connect("127.0.0.1", broker.port)
        self.client.subscribe(protocol.down_topic("truck-a", "mobile_order"), qos=1)
        self.client.loop_start()


SSL = ssl.create_default_context()  # one for all clients: each new one costs ~20 ms of the load generator's CPU


async def customer(i: int, url: str, stripe: str, times: dict[str, list[float]]) -> str:
    headers = {"x-forwarded-for": f"10.{i // 250}.{i % 250}.7"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120, verify=SSL) as c:
        t0 = time.perf_counter()
        page = await c.get("/t/truck-a")
        times["truck page"].append(time.perf_counter() - t0)
        csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        slot = page.text.split('name="slot" value="', 1)[1].split('"', 1)[0]
        for attempt in range(3):  # a customer presses the button again when the payment page did not open
            t0 = time.perf_counter()
            r = await c.post("/t/truck-a/order", data={"csrf": csrf, "qty-taco-al-pastor": str(1 + i % 3),
                                                       "qty-horchata": "1", "slot": slot})
            times["place order"].append(time.perf_counter() - t0)
            if r.status_code != 502:
                break
            times["retries"].append(1.0)
        assert r.status_code == 303, r.text[:300]
        sid = r.headers["location"].rsplit("/", 1)[1]
        session = (await c.get(f"{stripe}/v1/checkout/sessions/{sid}", headers={"authorization": f"Bearer {API_KEY}"})).json()
        token, amount = session["client_reference_id"], session["amount_total"]
        body = completed_event(f"cs_{i}", token, amount)
        t0 = time.perf_counter()
        hooks = await asyncio.gather(*[c.post("/payments/webhook", content=body, headers={"stripe-signature": stripe_header(body)})
                                       for _ in range(2)])
        times["webhook"].append(time.perf_counter() - t0)
        assert sorted(h.text for h in hooks) == ["already", "paid"], [h.text for h in hooks]
        t0 = time.perf_counter()
        assert (await c.get(f"/o/{token}")).status_code == 200
        times["order page"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        await c.get("/static/style.css")
        times["floor: static css"].append(time.perf_counter() - t0)
        return token


def run(customers: int = 200, db_url: str | None = None) -> dict:
    """Run the load and return the figures (times in seconds) and the integrity counts."""
    db_url = db_url if db_url is not None else os.environ.get("TRUCK_POS_TEST_PG", "")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        db_url = db_url or f"sqlite:///{tmp / 'hub.db'}"
        db = fresh_hub_db(db_url)
        remember_menu("truck-a", MENU, "exclusive", SystemClock().now())
        broker = MosquittoBroker(tmp, users=PASSWORDS, acl_file=FLEET_ACL).start()
        # The payment provider stand-in runs as its own process, as Stripe would (not in the load generator).
        stripe_port = free_port()
        stripe_proc = subprocess.Popen([sys.executable, "-m", "tests.web.fake_stripe", str(stripe_port)],
                                       stdout=subprocess.PIPE, cwd=Path(__file__).resolve().parent.parent)
        assert stripe_proc.stdout.readline().strip() == b"ready"
        stripe = f"http://127.0.0.1:{stripe_port}"
        (tmp / "hub.pw").write_text(PASSWORDS["hub"])
        for name, secret in (("stripe.key", API_KEY), ("stripe.whsec", WEBHOOK_SECRET)):
            (tmp / name).write_text(secret)
            (tmp / name).chmod(0o600)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        hub = subprocess.Popen([sys.executable, "-m", "sync.hub.cli", "--db", db_url, "--host", "127.0.0.1", "--port",
                                str(broker.port), "--password-file", str(tmp / "hub.pw"), "--no-shared", "run", "--web",
                                "--listen", f"127.0.0.1:{port}", "--data-dir", str(tmp / "web"), "--timezone", "UTC",
                                "--behind-proxy", "--slot-capacity", str(customers), "--stripe-key-file",
                                str(tmp / "stripe.key"), "--stripe-webhook-secret-file", str(tmp / "stripe.whsec"),
                                "--stripe-api-base", stripe], cwd=tmp)
        spy = Spy(broker)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    httpx.get(f"{url}/console/login")
                    break
                except httpx.TransportError:
                    if hub.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("the hub's web face did not start")
                    time.sleep(0.2)
            times: dict[str, list[float]] = {k: [] for k in ("truck page", "place order", "webhook", "order page",
                                                             "floor: static css", "retries")}

            async def everyone() -> list[str]:
                return await asyncio.gather(*[customer(i, url, stripe, times) for i in range(customers)])

            alone: dict[str, list[float]] = {k: [] for k in times}
            asyncio.run(customer(customers, url, stripe, alone))  # one customer on an idle hub: the unloaded page time
            started = time.perf_counter()
            tokens = asyncio.run(everyone())
            wall = time.perf_counter() - started
            deadline = time.monotonic() + 30
            while len(spy.ids) < customers + 1 and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(0.5)  # a late duplicate would show up here
            paid = HubWebOrder.select().where(HubWebOrder.status == "paid").count() - 1  # less the lone customer's
            retries = len(times.pop("retries"))
            alone.pop("retries")
            result = {"retries": retries,
                "customers": customers, "wall_s": wall, "backend": db_url.split(":", 1)[0],
                "pages": {k: {"p50": pct(v, 0.5), "p95": pct(v, 0.95), "max": max(v)} for k, v in times.items()},
                "alone_ms": {k: v[0] * 1000 for k, v in alone.items()},
                "orders_paid": paid, "mobile_order_rows": HubMobileOrder.select().count() - 1,
                "distinct_tokens": len(set(tokens)), "sent_to_truck": len(spy.ids) - 1, "distinct_at_truck": len(set(spy.ids)) - 1,
            }
            all_pages = times["truck page"] + times["place order"] + times["order page"]
            result["p95_page_s"] = pct(all_pages, 0.95)
            result["ratio_to_floor"] = result["p95_page_s"] / max(result["pages"]["floor: static css"]["p95"], 1e-6)
            result["mean_page_s"] = statistics.fmean(all_pages)
            return result
        finally:
            spy.client.loop_stop()
            spy.client.disconnect()
            hub.terminate()
            hub.wait(20)
            stripe_proc.terminate()
            stripe_proc.wait(10)
            broker.kill()
            db.close()


def table(r: dict) -> str:
    """The figures as a markdown table."""
    lines = ["| page | alone ms | p50 ms | p95 ms | max ms |", "|---|---|---|---|---|"]
    for name, f in r["pages"].items():
        lines.append(f"| {name} | {r['alone_ms'][name]:.0f} | {f['p50'] * 1000:.0f} | {f['p95'] * 1000:.0f} | "
                     f"{f['max'] * 1000:.0f} |")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--customers", type=int, default=200)
    p.add_argument("--db", default=None, help="hub database URL (default $TRUCK_POS_TEST_PG, else SQLite)")
    args = p.parse_args()
    r = run(args.customers, args.db)
    print(table(r))
    print(f"\n{r['customers']} customers on {r['backend']} in {r['wall_s']:.1f} s; p95 page {r['p95_page_s'] * 1000:.0f} ms "
          f"= {r['ratio_to_floor']:.1f}x the static-file floor")
    print(f"payment page retries (provider call timed out under load): {r['retries']}")
    print(f"orders paid {r['orders_paid']}, mobile order rows {r['mobile_order_rows']}, sent to the truck {r['sent_to_truck']} "
          f"({r['distinct_at_truck']} distinct)")
    ok = r["orders_paid"] == r["mobile_order_rows"] == r["distinct_at_truck"] == r["sent_to_truck"] == r["customers"]
    print("no order lost or doubled" if ok else "ORDERS LOST OR DOUBLED")
    return 0 if ok else 1


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    raise SystemExit(main())
