"""Each process's builder wires only what that process owns (truck_pos/bootstrap.py)."""

from __future__ import annotations

import uuid

from sync.agent.inbound import mobile_order_handler
from truck_pos.bootstrap import build_admin, build_register, build_sync
from truck_pos.config import load_settings
from truck_pos.store.print_models import PickupEntry, PrintJob


def test_the_sync_process_owns_no_device_but_records_a_mobile_orders_print_jobs(settings_env, clock, tmp_path):
    env = {**settings_env, "TRUCK_POS_PRINTER_KIND": "file", "TRUCK_POS_PRINTER_FILE_PATH": str(tmp_path / "paper"),
           "TRUCK_POS_MQTT_ENABLED": "true", "TRUCK_POS_SCANNER_KIND": "serial"}
    s = build_sync(load_settings(env=env), clock=clock)
    try:
        assert s.printing is None and s.scanner is None and s.proximity.scanner is None
        assert s.extras["sync"] is not None and s.register.after_commit_hooks == []
        body = {"order_id": str(uuid.uuid4()), "total_cents": 974, "note": "", "lines": [
            {"sku": "taco-fish", "name": "Fish Taco", "quantity": 2, "unit_price_cents": 450, "tax_rate_bp": 825}]}
        s.menu.load({"categories": [{"name": "Tacos", "items": [{"sku": "taco-fish", "name": "Fish Taco", "price_cents": 450,
                                                                 "tax_rate_bp": 825}]}]})
        assert mobile_order_handler(s.register, s.db)(body) == (True, "recorded")
        assert [j.kind for j in PrintJob.select()] == ["kitchen"]  # for the register's worker to print
        assert PickupEntry.select().where(PickupEntry.order_uuid == body["order_id"]).exists()
        assert not (tmp_path / "paper").exists()  # nothing was printed here
    finally:
        s.close()


def test_the_register_owns_the_printer_and_wakes_it_after_the_commit(settings, clock):
    s = build_register(settings, clock=clock, print_autostart=False)
    try:
        assert s.printing is not None and s.printing.on_order_committed in s.register.after_commit_hooks
        assert s.printing.on_order_completed in s.register.completion_hooks
    finally:
        s.close()


def test_an_admin_command_starts_no_print_worker(settings, clock):
    s = build_admin(settings, clock=clock)
    try:
        t = s.register.open_ticket()
        s.register.add_item(t.id, "taco-fish", 1)
        s.register.pay_card(t.id)
        assert s.printing._thread is None and PrintJob.select().count() == 2  # queued for the register to print
    finally:
        s.close()
