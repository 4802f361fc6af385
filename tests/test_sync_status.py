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
