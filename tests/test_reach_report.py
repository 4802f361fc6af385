"""The reach report's arithmetic: attribution by code, revenue from the redeemed orders, and the A/B z-test
against values worked out by hand from the two-proportion formula."""

from __future__ import annotations

import pytest

from sync.hub.messaging import report
from sync.hub.messaging.manners import code_key
from sync.hub.messaging.models import DEAD, SENT, SKIPPED, HubSend
from sync.hub.models import HubMessage
from tests.reach.db import hub_url  # noqa: F401 (fixture)
from tests.reach.world import utc

NOW = utc(2026, 6, 1, 18)


def test_two_proportions_match_the_textbook_values():
    # 30/100 vs 20/100: pooled 0.25, se = sqrt(0.25 * 0.75 * 0.02) = 0.0612372, z = 1.63299, p = 0.102470
    z, p = report.two_proportion(30, 100, 20, 100)
    assert z == pytest.approx(1.63299, abs=1e-5) and p == pytest.approx(0.102470, abs=1e-5)
    assert report.two_proportion(0, 0, 1, 10) == (0.0, 1.0) and report.two_proportion(5, 5, 5, 5) == (0.0, 1.0)


def test_redemptions_are_attributed_to_the_send_whose_code_they_used_with_the_order_total(hub_url):
    seq = iter(range(1, 1000))

    def send(i: int, variant: str, state: str = SENT, channel: str = "email") -> None:
        code = f"TP1-CODE-{variant}-{i}"
        HubSend.create(key=f"k{variant}{i}", campaign_id="cb", message_id="m", segment="pos_registrants", channel=channel,
                       variant=variant, due_at=NOW, state=state, code=code, code_key=code_key(code) if state == SENT else "")

    def redeem(code: str, order: str, total: int) -> None:
        for kind, body in (("order", {"order_id": order, "total_cents": total}),
                           ("redemption", {"redemption_id": f"{order}:x", "order_id": order, "campaign_id": "cb", "code": code})):
            n = next(seq)
            HubMessage.create(key=f"m{n}", truck="t", seq=n, kind=kind, ts_utc=NOW, received_utc=NOW, body=body)

    for i in range(10):
        send(i, "A")
        send(i, "B")
    send(99, "B", DEAD)
    send(98, "A", SKIPPED)
    redeem("tp1 code a 1", "o1", 1250)  # typed with spaces and lower case: the normalized code still matches
    redeem("TP1-CODE-A-2", "o2", 800)
    redeem("TP1-CODE-A-2", "o2", 800)  # the same redemption twice (a re-sent message): counted once
    redeem("TP1-CODE-B-3", "o3", 999)
    redeem("SOMEONE-ELSES", "o4", 500)  # not a code any message carried
    rows, tests = report.build("cb")
    got = {r.variant: (r.sent, r.delivered, r.failed, r.skipped, r.redeemed, r.revenue_cents) for r in rows}
    assert got == {"A": (10, 10, 0, 1, 2, 2050), "B": (11, 10, 1, 0, 1, 999)}
    (ab,) = tests
    z, p = report.two_proportion(2, 10, 1, 10)
    assert (ab.a, ab.b, ab.rate_a, ab.rate_b, ab.p_value) == ("A", "B", 0.2, 0.1, p)
    assert "A/B pos_registrants email: A 20.0% vs B 10.0%" in report.render_table(rows, tests)
