"""The pickup window: claim from the printed receipt -> handed over once; refusals say why."""

from __future__ import annotations

from datetime import date

from escpos_decode import decode
from truck_pos.domain.claims import make_claim
from truck_pos.domain.order import TenderEntry, Ticket, TicketLine
from truck_pos.store.models import Order
from truck_pos.store.outbox import Outbox


def printed_claim(wired, roll) -> str:
    wired.printing.run_once()
    return decode(roll.jobs[0]).qr_payloads[0]


def test_scanning_the_receipt_qr_hands_the_order_over_once(wired, roll, ring_up, clock):
    paid = ring_up("taco-al-pastor")
    claim = printed_claim(wired, roll)
    pickup = wired.pickup
    queue = pickup.queue()
    assert [c.number for c in queue.preparing] == [paid.order_number] and not queue.ready

    clock.advance(minutes=31)  # 17:31 UTC = 12:31 in Chicago
    card = pickup.mark_ready(paid.order_uuid)
    assert card.state == "ready" and card.since == "12:31"
    assert [c.number for c in pickup.queue().ready] == [paid.order_number]

    result = pickup.scan(claim + "\r\n")
    assert result.ok and result.outcome == "handed_over" and result.card.number == paid.order_number
    assert Order.get(Order.uuid == paid.order_uuid).status == "handed_over"
    assert [c.number for c in pickup.queue().handed_over] == [paid.order_number]

    clock.advance(minutes=5)
    again = pickup.scan(claim)
    assert again.outcome == "already_collected" and again.message == f"Order #{paid.order_number} already collected at 12:31"

    events = [r.payload["event"] for r in Outbox.select().where(Outbox.kind == "pickup").order_by(Outbox.seq)]
    assert events == ["ready", "handed_over"]


def test_forged_garbage_and_other_truck_codes_are_refused_without_change(wired, roll, ring_up):
    paid = ring_up("taco-fish")
    claim = printed_claim(wired, roll)
    forged = claim[:-1] + ("A" if claim[-1] != "A" else "B")
    other = make_claim(b"x" * 32, "truck-elsewhere", date(2026, 6, 1), paid.order_number, paid.order_uuid)
    for text, words in ((forged, "not genuine"), ("\x00\x7f?garbage", "Not a pickup code"), (other, "another truck")):
        result = wired.pickup.scan(text)
        assert result.outcome == "refused" and words in result.message
    assert Order.get(Order.uuid == paid.order_uuid).status == "paid"
    assert Outbox.select().where(Outbox.kind == "pickup").count() == 0


def test_a_voided_order_is_not_handed_over(wired, roll, ring_up):
    manager_pin = "9999"
    wired.staff.add("Maria", manager_pin, "manager")
    paid = ring_up("taco-fish")
    claim = printed_claim(wired, roll)
    wired.register.void_order(paid.order_uuid, manager_pin, "customer left")
    result = wired.pickup.scan(claim)
    assert result.outcome == "refused" and "voided" in result.message


def test_a_mobile_order_joins_the_queue_with_its_claim_sent_up(wired):
    ticket = Ticket(id="0d7a6c1e-2f3b-4a5c-8d9e-112233445566", tax_mode="exclusive",
                    lines=(TicketLine("taco-fish", "Fish taco", 500, 1, 825),), tenders=(TenderEntry("prepaid", 541, 541),))
    paid = wired.register.write_order(ticket, None, "mobile")
    queued = Outbox.get(Outbox.kind == "pickup")
    assert queued.payload["event"] == "queued" and queued.payload["channel"] == "mobile"
    card = wired.pickup.queue().preparing[0]
    assert (card.number, card.channel) == (paid.order_number, "mobile")
    result = wired.pickup.scan(queued.payload["claim"])  # the customer's phone shows the code it was sent
    assert result.ok and result.card.channel == "mobile"


def test_hand_over_by_number_without_a_code(wired, ring_up):
    paid = ring_up("taco-veggie")
    assert wired.pickup.hand_over(paid.order_uuid).ok
    assert wired.pickup.hand_over(paid.order_uuid).outcome == "already_collected"


def test_the_claim_key_survives_a_restart_and_is_never_printed(settings, clock, wired, roll, ring_up):
    from truck_pos.services.claim_key import load_claim_key

    key = load_claim_key(wired.db, "", clock.now())
    assert key == load_claim_key(wired.db, "", clock.now()) and len(key) == 32
    ring_up("taco-fish")
    wired.printing.run_once()
    assert all(key not in job and key.hex().encode() not in job for job in roll.jobs)


def test_a_provisioned_key_file_is_used(tmp_path, wired, clock):
    from truck_pos.errors import ConfigError
    from truck_pos.services.claim_key import load_claim_key

    hex_file = tmp_path / "claim.key"
    hex_file.write_text("ab" * 32 + "\n")
    assert load_claim_key(wired.db, str(hex_file), clock.now()) == bytes([0xAB]) * 32
    short = tmp_path / "short.key"
    short.write_bytes(b"abc")
    try:
        load_claim_key(wired.db, str(short), clock.now())
    except ConfigError as exc:
        assert "fewer than 16 bytes" in str(exc)
    else:
        raise AssertionError("a short key must be refused")
