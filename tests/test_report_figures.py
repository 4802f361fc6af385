"""Report figures from plain rows (truck_pos.domain.reports), with expectations added up by hand from the rows.

The rules are the module's docstrings: attribution = the first redeemed code's segment, else the customer's
segment, else walk_in; only paid / handed-over orders count; a window is start <= created < end; uplift is
against the average of previous days; group activity is sorted by group, then most orders first, then stop.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from truck_pos.domain.reports import (
    WALK_IN, ChannelFigures, GroupActivity, LineRow, OrderRow, ProductSegment, RedemptionRow, attribute,
    channel_figures, group_activity, sales_by_product_segment, sales_by_segment, uplift, window_figures,
)

T0 = datetime(2026, 6, 1, 17, 0, tzinfo=timezone.utc)


def order(uuid: str, minutes: int = 0, status: str = "paid", ref: str | None = None, stop: str = "main",
          net: int = 1000) -> OrderRow:
    return OrderRow(uuid, T0 + timedelta(minutes=minutes), status, ref, stop, net)


def test_an_order_of_a_customer_with_no_known_segment_is_a_walk_in():
    orders = [order("o1", ref="c-unknown"), order("o2", ref="c-1"), order("o3")]
    assert attribute(orders, [], {"c-1": "regulars"}) == {"o1": WALK_IN, "o2": "regulars", "o3": WALK_IN}


def test_product_figures_carry_the_product_name_and_add_up_per_segment():
    orders = [order("o1"), order("o2"), order("o3", status="voided")]
    lines = [LineRow("o1", "taco", "Taco al pastor", 2, 700), LineRow("o2", "taco", "Taco al pastor", 1, 350),
             LineRow("o3", "taco", "Taco al pastor", 5, 1750)]
    assert sales_by_product_segment(orders, lines, [], {}) == [ProductSegment("taco", "Taco al pastor", WALK_IN, 3, 1050)]


def test_sales_by_segment_add_units_and_cents():
    rows = [ProductSegment("taco", "Taco", "a", 2, 700), ProductSegment("drink", "Drink", "a", 1, 250),
            ProductSegment("taco", "Taco", "b", 3, 1050)]
    assert sales_by_segment(rows) == {"a": (3, 950), "b": (3, 1050)}


def test_a_channel_with_reach_but_no_redemption_is_listed_with_zero():
    redemptions = [RedemptionRow("o1", "a", "email", T0, 100), RedemptionRow("o2", "a", "email", T0, 50),
                   RedemptionRow("o3", "a", "sms", T0, 70)]  # o3 was not sold
    figures = channel_figures(redemptions, {"o1", "o2"}, {"email": 10, "push": 4})
    assert figures == [ChannelFigures("email", 10, 2, 150), ChannelFigures("push", 4, 0, 0)]  # sms: nothing sold
    assert (figures[0].conversion, figures[1].conversion) == (0.2, 0.0)
    assert channel_figures(redemptions, {"o3"}, {}) == [ChannelFigures("sms", None, 1, 70)]
    assert channel_figures(redemptions, {"o3"}, {})[0].conversion is None


def test_the_window_counts_sold_orders_from_its_start_up_to_but_not_at_its_end():
    orders = [order("early", -1, net=1), order("start", 0, net=10), order("mid", 30, net=100),
              order("void", 30, status="voided", net=1000), order("end", 60, net=10000)]
    assert window_figures(orders, T0, T0 + timedelta(minutes=60)) == (2, 110)
    assert window_figures([], T0, T0 + timedelta(minutes=60)) == (0, 0)


def test_uplift_against_previous_days():
    assert uplift(15000, [10000, 12000, 8000]) == (10000, 0.5)
    assert uplift(500, [0, 0]) == (0, None)  # no sales before: no fraction
    assert uplift(500, []) == (None, None)


def test_group_activity_lists_the_busiest_stop_of_a_group_first():
    orders = [order("o1", ref="c1", stop="park"), order("o2", ref="c1", stop="office"),
              order("o3", ref="c2", stop="office"), order("o4", stop="office")]
    members = {"c1": ["acme"], "c2": ["acme"]}
    assert group_activity(orders, members) == [GroupActivity("acme", "office", 2, 2, 2000),
                                               GroupActivity("acme", "park", 1, 1, 1000)]
