"""Console reports from ingested truck messages: goal per truck, redemptions per segment, groups on an SVG map."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from starlette.testclient import TestClient

from sync import protocol
from sync.hub import Hub, HubConfig
from sync.hub.web.app import create_app
from sync.hub.web.campaigns import save
from tests.web.support import OWNER, OWNER_PW, add_user, csrf_of, web_config
from truck_pos.clock import FakeClock

NOW = datetime(2026, 6, 1, 17, 0, tzinfo=timezone.utc)
STOPS = {"Daley Plaza": (41.8837, -87.6298), "Union Station": (41.8787, -87.6403), "Navy Pier": (41.8917, -87.6086)}


def send(hub: Hub, seq: int, kind: str, body: dict) -> None:
    env = protocol.envelope(truck="truck-a", seq=seq, kind=kind, key=f"r-{seq}", ts=NOW, body=body)
    assert hub.ingest(protocol.up_topic("truck-a", kind), protocol.encode(env))[0] == "new"


def test_reports_show_the_goal_segments_and_groups_on_a_map_with_suggested_stops(tmp_path, both_dbs):
    hub = Hub(HubConfig(), clock=FakeClock(NOW))
    for i, (name, (lat, lon)) in enumerate(STOPS.items()):
        save({"format": 1, "id": f"c{i}", "name": name, "trucks": ["*"], "valid_from": "2026-06-01T10:00",
              "valid_until": "2026-06-07T22:00", "segments": [], "stop": {"name": name, "lat": lat, "lon": lon},
              "goal": {"label": "first hour", "start": "11:00", "end": "12:00", "customers": 2, "sales_cents": 5000}}, NOW)
    from sync.hub.web.models import HubWebCampaign
    HubWebCampaign.update(published_utc=NOW).where(HubWebCampaign.campaign_id == "c2").execute()
    seq = 0
    joins = [("ana", "Acme Accounting", "Daley Plaza"), ("ben", "Acme Accounting", "Daley Plaza"),
             ("cy", "Acme Accounting", "Daley Plaza"), ("ana", "Acme Accounting", "Daley Plaza"),  # ana again: once
             ("dee", "Zeta Law", "Navy Pier"), ("eli", "Zeta Law", "Navy Pier"), ("fay", "Zeta Law", "Nowhere")]
    for who, group, stop in joins:
        seq += 1
        send(hub, seq, "group_join", {"customer_ref": who, "group": group, "stop": stop, "truck": "truck-a",
                                      "joined_at": NOW.isoformat()})
    # Orders at 11:10 and 11:50 Chicago (in the first hour) and 12:30 (outside); 16:10 UTC = 11:10 CDT.
    for minute, cents in (("16:10", 1500), ("16:50", 2500), ("17:30", 9900)):
        seq += 1
        send(hub, seq, "order", {"order_id": f"o-{seq}", "number": seq, "business_day": "2026-06-01", "channel": "counter",
                                 "status": "paid", "total_cents": cents, "lines": [], "tenders": [],
                                 "paid_at": f"2026-06-01T{minute}:00+00:00"})
    # Orders o-8, o-9, o-10 above: $15, $25, $99. Two facebook codes on o-8 and o-9, a registrant code on o-10.
    for n, (segment, amount, order) in enumerate((("facebook_likers", 150, "o-8"), ("facebook_likers", 250, "o-9"),
                                                  ("pos_registrants", 300, "o-10"))):
        seq += 1
        send(hub, seq, "redemption", {"redemption_id": f"rd-{n}", "order_id": order, "campaign_id": "c2", "segment": segment,
                                      "channel": "facebook", "kind": "segment", "code": "FB", "customer_ref": None,
                                      "amount_cents": amount, "redeemed_at": NOW.isoformat(), "truck": "truck-a"})
    add_user()
    c = TestClient(create_app(web_config(tmp_path), hub), follow_redirects=False)
    c.post("/console/login", data={"username": OWNER, "password": OWNER_PW, "csrf": csrf_of(c.get("/console/login").text)})
    page = c.get("/console/reports").text

    goal = re.search(r'<table class="grid" id="goals">.*?</table>', page, re.S).group(0)
    assert re.search(r"<td>truck-a</td><td>2026-06-01</td><td>2</td><td>\$40\.00</td>\s*<td class=\"bad\">no</td>", goal)
    segments = re.search(r'id="segments">.*?</table>', page, re.S).group(0)
    assert "<td>facebook_likers</td><td>2</td><td>$4.00</td><td>$40.00</td>" in segments
    assert "<td>pos_registrants</td><td>1</td><td>$3.00</td><td>$99.00</td>" in segments

    circles = dict(re.findall(r'<circle [^>]*data-group="([^"]+)" data-members="(\d+)"', page))
    assert circles == {"Acme Accounting": "3", "Zeta Law": "2"}  # the join at an unknown stop is not placed
    assert sorted(re.findall(r'<rect [^>]*data-stop="([^"]+)"', page)) == sorted(STOPS)
    suggestions = re.findall(r"<li><strong>([^<]+)</strong>: (\d+) group members nearby", page)
    # Union Station is ~1.0 km from Daley Plaza (inside 1.5 km); Navy Pier is ~2.0 km from both.
    assert suggestions == [("Daley Plaza", "3"), ("Union Station", "3"), ("Navy Pier", "2")]
    assert "Acme Accounting: 3 members joined at Daley Plaza (1.0 km)" in page
