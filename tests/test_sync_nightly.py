"""The owner's nightly: reconcile a truck's outbox with the hub, write reports, post with retries."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from sync import protocol
from sync.owner import nightly
from sync.hub import Hub, HubConfig
from sync.hub.models import open_hub_database
from tests.mqtt_broker import free_port
from truck_pos.errors import SyncUnavailable
from truck_pos.store import outbox
from truck_pos.store.outbox import Outbox


def ring_up(services, n):
    for i in range(n):
        t = services.register.open_ticket()
        services.register.add_item(t.id, "taco-fish", 1 + i)
        services.register.pay_card(t.id)


@pytest.fixture
def day_at_the_hub(services, tmp_path):
    """Five orders and an audit row on the truck; the hub got all but seq 3, plus one the truck never had."""
    ring_up(services, 5)
    with services.db.atomic():
        outbox.enqueue("audit", {"action": "void"}, now=services.clock.now())
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    open_hub_database(url)
    hub = Hub(HubConfig(), clock=services.clock)
    for row in Outbox.select().order_by(Outbox.seq):
        if row.seq == 3:
            continue
        env = protocol.envelope(truck="truck-test", seq=row.seq, kind=row.kind, key=row.key, ts=row.created_utc, body=row.payload)
        assert hub.ingest(protocol.up_topic("truck-test", row.kind), protocol.encode(env))[0] == "new"
    stray = protocol.envelope(truck="truck-test", seq=7, kind="audit", key="only-at-hub", ts=services.clock.now(), body={})
    hub.ingest(protocol.up_topic("truck-test", "audit"), protocol.encode(stray))
    forged = protocol.envelope(truck="truck-test", seq=8, kind="order", key="bad-order", ts=services.clock.now(), body={"x": 1})
    assert hub.ingest(protocol.up_topic("truck-test", "order"), protocol.encode(forged))[0] == "rejected"
    return url


def test_nightly_lists_what_each_side_is_missing_and_writes_the_reports(day_at_the_hub, services, tmp_path, capsys):
    out = tmp_path / "reports"
    code = nightly.main(["nightly", "--hub-db", day_at_the_hub, "--day", "2026-06-01", "--tz", "America/Chicago",
                         "--truck-db", f"truck-test={services.settings.database_path}", "--out", str(out), "--no-progress"])
    assert code == 3  # not reconciled
    doc = json.loads((out / "summary.json").read_text())
    truck = doc["trucks"][0]
    assert (truck["truck"], truck["orders"], truck["truck_rows"]) == ("truck-test", 4, 6)
    assert [r["seq"] for r in truck["missing_on_hub"]] == [3]
    assert truck["missing_on_truck"] == ["only-at-hub"]
    assert truck["seq_gaps"] == [[3, 3]]
    assert truck["rejected"][0]["seq"] == 8 and "missing field" in truck["rejected"][0]["reason"]
    # by hand: the hub has the orders of 1, 2, 4 and 5 fish tacos (450 each; 8.25 % tax per order, half up)
    assert truck["money"] == {"orders": 4, "gross_cents": 450 * 12, "discount_cents": 0, "voids": 0, "void_cents": 0,
                              "refunds": 0, "refund_cents": 0, "net_cents": 450 * 12, "tax_cents": 37 + 74 + 149 + 186}
    assert truck["sales_cents"] == 450 * 12
    assert "hub lacks 1, truck lacks 1" in capsys.readouterr().out
    assert (out / "summary.csv").read_text().splitlines()[0].startswith("day,truck,kind,messages")


def test_a_day_without_gaps_reconciles_from_the_hub_alone(services, tmp_path, capsys):
    ring_up(services, 3)
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    open_hub_database(url)
    hub = Hub(HubConfig(), clock=services.clock)
    for row in Outbox.select():
        env = protocol.envelope(truck="truck-test", seq=row.seq, kind=row.kind, key=row.key, ts=row.created_utc, body=row.payload)
        hub.ingest(protocol.up_topic("truck-test", row.kind), protocol.encode(env))
    assert nightly.main(["nightly", "--hub-db", url, "--day", "2026-06-01", "--out", str(tmp_path / "r")]) == 0
    assert "ok (no seq gaps" in capsys.readouterr().out


class Endpoint(BaseHTTPRequestHandler):
    """Answers with the next status in ``plan`` and records each body."""

    plan: list[int] = []
    bodies: list[dict] = []

    def do_POST(self):  # noqa: N802 - http.server naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).bodies.append(body)
        status = type(self).plan.pop(0) if type(self).plan else 200
        self.send_response(status)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture
def endpoint():
    Endpoint.plan, Endpoint.bodies = [], []
    server = HTTPServer(("127.0.0.1", 0), Endpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/summary", Endpoint
    server.shutdown()


def test_post_retries_through_server_errors_then_succeeds(endpoint):
    url, ep = endpoint
    ep.plan = [503, 502]
    assert nightly.post_summary(url, {"day": "2026-06-01"}, backoff_s=0.01, timeout_s=5) == 200
    assert len(ep.bodies) == 3 and ep.bodies[-1] == {"day": "2026-06-01"}


def test_post_gives_up_with_a_clear_error(endpoint):
    url, ep = endpoint
    ep.plan = [500] * 10
    with pytest.raises(SyncUnavailable, match="refused the summary: HTTP 500"):
        nightly.post_summary(url, {}, retries=2, backoff_s=0.01, timeout_s=5)
    assert len(ep.bodies) == 3
    with pytest.raises(SyncUnavailable, match="could not reach 127.0.0.1 after 1 retries"):
        nightly.post_summary(f"http://127.0.0.1:{free_port()}/x", {}, retries=1, backoff_s=0.01, timeout_s=2)
    with pytest.raises(SyncUnavailable, match="use an https:// address"):
        nightly.post_summary("http://owner.example.com/x", {})
