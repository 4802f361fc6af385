"""The README's registration QR: the active campaign's registration URL is printed as a second QR on receipts."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from escpos_decode import decode
from tests.campaign_support import demo_document, install, write_public_key
from truck_pos.bootstrap import build
from truck_pos.config import load_settings
from truck_pos.devices.printer import EscposPrinter

URL = "https://tacos.example/join?truck=truck-test"


def services_with_campaign(tmp_path, clock, roll, **document):
    tmp_path.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    env = {"TRUCK_POS_STORE_PATH": str(tmp_path / "truck.db"), "TRUCK_POS_TRUCK_ID": "truck-test",
           "TRUCK_POS_SECURITY_CAMPAIGN_PUBLIC_KEY_FILE": str(write_public_key(key, tmp_path / "owner.pub.pem"))}
    svc = build(load_settings(env=env), clock=clock, print_autostart=False,
                printer=EscposPrinter(roll.device, profile="TM-T20II", columns=48))
    if document:
        install(svc, key, demo_document(**document))
    return svc


def sell_and_print(svc, roll):
    ticket = svc.register.open_ticket()
    svc.register.add_item(ticket.id, "taco-fish")
    svc.register.pay_card(ticket.id)
    assert svc.printing.run_once() == 2
    return decode(roll.jobs[0])


def test_the_active_campaigns_registration_url_is_a_qr_on_the_receipt(tmp_path, clock, roll):
    svc = services_with_campaign(tmp_path, clock, roll, registration_url=URL)
    try:
        receipt = sell_and_print(svc, roll)
        assert receipt.qr_payloads[1:] == [URL] and "Join our list for deals:" in receipt.texts
        assert decode(roll.jobs[1]).qr_payloads == []  # the kitchen has no use for it
    finally:
        svc.close()


def test_no_campaign_or_a_url_that_is_not_a_web_link_prints_no_registration_qr(tmp_path, clock, roll):
    svc = services_with_campaign(tmp_path, clock, roll, registration_url="javascript:alert(1)\x1bp")
    try:
        receipt = sell_and_print(svc, roll)
        assert len(receipt.qr_payloads) == 1 and "Join our list for deals:" not in receipt.texts
    finally:
        svc.close()
    roll.jobs.clear()
    bare = services_with_campaign(tmp_path / "bare", clock, roll)
    try:
        assert len(sell_and_print(bare, roll).qr_payloads) == 1
    finally:
        bare.close()
