"""Staff languages: the migration that adds them keeps old staff, and the Spanish catalogue covers the UI."""

from __future__ import annotations

import re
import sqlite3
import subprocess
from pathlib import Path

import pytest

from truck_pos.errors import InvalidInput
from truck_pos.store.db import close_database, open_database

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "truck_pos" / "locale" / "es" / "LC_MESSAGES" / "truck_pos.po"


def test_an_existing_register_keeps_its_staff_and_gets_their_language(tmp_path):
    """A database from before the language column (schema version 1) is upgraded in place."""
    path = tmp_path / "old.db"
    open_database(path)
    close_database()
    con = sqlite3.connect(path)
    con.execute("ALTER TABLE staff DROP COLUMN language")
    con.execute("DELETE FROM schema_version WHERE version > 1")
    con.execute("INSERT INTO staff (name, role, pin_salt, pin_hash, active, created_utc) VALUES ('Old Sam', 'staff', x'00', x'00', 1, '2026-01-01T00:00:00+00:00')")
    con.commit()
    con.close()
    open_database(path)
    try:
        from truck_pos.store.models import Staff

        assert [(s.name, s.language) for s in Staff.select()] == [("Old Sam", "en")]
    finally:
        close_database()


def test_a_staff_member_speaks_a_shipped_language(services):
    assert services.staff.add("Lucía", "2468", language="es").language == "es"
    with pytest.raises(InvalidInput):
        services.staff.add("Zed", "1357", language="xx")


def test_every_staff_facing_string_has_a_spanish_translation(tmp_path):
    """xgettext over truck_pos/ui finds nothing the Spanish catalogue lacks; the shipped .mo is built from the .po."""
    pot = tmp_path / "ui.pot"
    sources = sorted(str(p) for p in (ROOT / "truck_pos" / "ui").glob("*.py"))
    subprocess.run(["xgettext", "-L", "Python", "--keyword=_", "--keyword=N_", "--keyword=bind_text:2",
                    "--from-code=UTF-8", "-o", str(pot), *sources], check=True)
    wanted = set(re.findall(r'^msgid "(.+)"$', pot.read_text("utf-8"), re.M))
    po = PO.read_text("utf-8")
    translated = dict(re.findall(r'^msgid "(.+)"\nmsgstr "(.+)"$', po, re.M))
    assert wanted - set(translated) == set()
    built = tmp_path / "es.mo"
    subprocess.run(["msgfmt", "-o", str(built), str(PO)], check=True)
    assert built.read_bytes() == PO.with_suffix(".mo").read_bytes()
