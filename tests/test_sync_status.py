"""The status bar's sync line, with the agent in another process (outbox counts) or none configured."""

from truck_pos.store import outbox


def test_sync_line_counts_what_waits_in_the_outbox(services):
    assert services.sync_status.line() == "sync off"
    t = services.register.open_ticket()
    services.register.add_item(t.id, "drink-water")
    services.register.pay_card(t.id)
    waiting = outbox.counts()["queued"]
    assert waiting >= 1
    assert services.sync_status.line() == f"sync off, {waiting} waiting"
    services.sync_status.enabled = True
    assert services.sync_status.line() == f"sync: {waiting} waiting"


def three_sales(services) -> None:
    for _ in range(3):
        t = services.register.open_ticket()
        services.register.add_item(t.id, "drink-water")
        services.register.pay_card(t.id)


def test_waiting_is_sent_or_queued_but_not_acked_and_reads_only_the_waiting_rows(services, clock):
    three_sales(services)
    seqs = [row.seq for row in outbox.pending(limit=1000)]
    total = len(seqs)
    outbox.mark_sent(seqs[:2], clock.now())  # two sent, not acked: still waiting
    assert outbox.waiting() == total
    outbox.mark_acked_through(seqs[0], clock.now())  # the hub has the first
    assert outbox.waiting() == total - 1
    assert services.sync_status.line() == f"sync off, {total - 1} waiting"
    plan = services.db.execute_sql("EXPLAIN QUERY PLAN SELECT COUNT(1) FROM outbox WHERE acked_utc IS NULL").fetchall()
    assert "outbox_waiting" in str(plan)  # the partial index: a year of acked rows is never scanned


def test_waiting_counts_split_what_waits_into_queued_and_unacked(services, clock):
    three_sales(services)
    seqs = [row.seq for row in outbox.pending(limit=1000)]
    outbox.mark_sent(seqs[:2], clock.now())
    outbox.mark_acked_through(seqs[0], clock.now())
    # by hand: all rows, two sent, the first of them acked
    assert outbox.waiting_counts() == (len(seqs) - 2, 1)
    assert outbox.counts() == {"queued": len(seqs) - 2, "unacked": 1, "acked": 1}
