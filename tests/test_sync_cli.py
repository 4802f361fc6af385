"""The console scripts against a real broker: truck-pos-sync --drain, truck-pos-hub publish/status."""

from __future__ import annotations

import json

import pytest

from sync.agent import cli as agent_cli
from sync.hub import cli as hub_cli
from sync.hub.models import HubMessage
from tests.mqtt_fixtures import FAKE_PASSWORDS, fleet_broker, hub, hub_db  # noqa: F401
from truck_pos.bootstrap import build
from truck_pos.config import load_settings
from truck_pos.services.menu import demo_menu

pytestmark = pytest.mark.mqtt


@pytest.fixture
def truck_ini(tmp_path, fleet_broker):
    secret = tmp_path / "mqtt-password"
    secret.write_text(FAKE_PASSWORDS["truck-test"] + "\n")
    ini = tmp_path / "truck.ini"
    ini.write_text(f"[truck]\nid = truck-test\n[store]\npath = {tmp_path / 'cli-truck.db'}\n"
                   f"[mqtt]\nenabled = true\nhost = 127.0.0.1\nport = {fleet_broker.port}\n"
                   f"password_file = {secret}\nreconnect_min_s = 0.1\nreconnect_max_s = 0.5\nack_timeout_s = 1\n")
    return ini


def test_truck_pos_sync_drains_the_register_outbox_and_exits(truck_ini, hub, capsys):
    services = build(load_settings(truck_ini, env={}))
    assert "sync" in services.extras  # bootstrap wires the agent when [mqtt] enabled
    ticket = services.register.open_ticket()
    services.register.add_item(ticket.id, "taco-fish", 2)
    order = services.register.pay_card(ticket.id).order_uuid
    services.close()

    assert agent_cli.main(["--config", str(truck_ini), "--drain", "--timeout", "30"]) == 0
    assert "online" in capsys.readouterr().out
    assert HubMessage.get(HubMessage.kind == "order").body["order_id"] == order


def test_truck_pos_hub_publishes_a_menu_and_reports_status(tmp_path, fleet_broker, hub, capsys):
    secret = tmp_path / "hub-password"
    secret.write_text(FAKE_PASSWORDS["hub"])
    menu = tmp_path / "menu.json"
    menu.write_text(json.dumps(demo_menu()))
    common = ["--db", f"sqlite:///{tmp_path / 'hub.db'}", "--host", "127.0.0.1", "--port", str(fleet_broker.port),
              "--password-file", str(secret)]
    assert hub_cli.main([*common, "publish-menu", "truck-test", str(menu)]) == 0
    assert "delivered to the broker" in capsys.readouterr().out
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"categories": "none"}))
    assert hub_cli.main([*common, "publish-menu", "truck-test", str(bad)]) == 1
    assert "menu document field 'categories' should be a list" in capsys.readouterr().err
    assert hub_cli.main([*common, "status"]) == 0


def test_admin_sync_commands_show_counts_and_dead_letters(settings_env, tmp_path, capsys, monkeypatch):
    from sync.agent.inbound import Inbox
    from truck_pos.cli import main as admin
    from truck_pos.clock import SystemClock

    for key, value in settings_env.items():
        monkeypatch.setenv(key, value)
    services = build(load_settings(env=settings_env))
    Inbox("truck-test", SystemClock(), {}, on_ack=lambda body: (True, "")).handle("tp/v1/trucks/truck-test/down/menu", b"{oops")
    services.close()
    assert admin(["sync", "status"]) == 0
    assert "dead letters 1" in capsys.readouterr().out
    assert admin(["sync", "dead-letters"]) == 0
    assert "payload is not JSON" in capsys.readouterr().out
