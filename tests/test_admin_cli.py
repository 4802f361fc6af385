"""truck-pos-admin end to end on a real database file."""

from __future__ import annotations

import json

from truck_pos.cli import main


def test_init_staff_orders_and_totals(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TRUCK_POS_STORE_PATH", str(tmp_path / "t.db"))
    assert main(["init"]) == 0
    assert "13 menu items" in capsys.readouterr().out
    assert main(["staff", "add", "Maria", "--role", "manager", "--pin", "9999"]) == 0
    assert main(["staff", "add", "Sam", "--pin", "12"]) == 1
    assert "A PIN is 4 to 8 digits" in capsys.readouterr().err
    assert main(["sold-out", "taco-fish"]) == 0
    assert main(["sold-out", "nope"]) == 1
    assert main(["totals", "--json"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out[out.index("{"):])["orders"] == 0
    assert main(["orders"]) == 0


def test_a_bad_config_file_is_reported_not_raised(tmp_path, capsys):
    bad = tmp_path / "truck.ini"
    bad.write_text("[truck]\ntimezone = Mars/Olympus\n")
    assert main(["--config", str(bad), "init"]) == 1
    assert "not a known time zone" in capsys.readouterr().err
