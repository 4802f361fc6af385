"""Customer text at the printer boundary: ESC/POS commands in a mobile-order note, CJK, emoji and accents.

The mobile order comes in as the hub sends it (an envelope on the truck's down topic, through the real
inbound handler and the register), the worker prints it, and the reference decoder reads the bytes.
"""

from __future__ import annotations

import json
import uuid

import pytest

from escpos_decode import decode
from receipt_samples import COLUMNS, FAMILY, PROFILES, SAMPLE, WORLD
from sync import protocol
from sync.agent.inbound import Inbox, mobile_order_handler
from truck_pos.devices.printer import capabilities, render_bytes
from truck_pos.domain.receipt import render_kitchen_ticket, render_receipt

ESC, GS, FS, DLE = "\x1b", "\x1d", "\x1c", "\x10"
# Every command family a printer acts on, as a customer could type them into a note.
HOSTILE = [
    ESC + "p\x00\x19\xfa", ESC + "p\x01\x32\x32",  # drawer kick, pins 2 and 5
    DLE + "\x14\x01\x00\x05", DLE + "\x14\x02\x01\x08",  # real-time drawer pulse, power off
    DLE + "\x04\x01", DLE + "\x05\x02",  # real-time status / recover
    ESC + "@", ESC + "d\x50", ESC + "J\xff", ESC + "i", ESC + "m", GS + "V\x00", GS + "V\x41\x10",  # reset, feed, cut
    ESC + "t\x01", ESC + "R\x08", ESC + "!\x38", GS + "!\x77", ESC + "E\x01", ESC + "-\x02", ESC + "a\x02",  # modes
    ESC + "{\x01", ESC + "V\x01", ESC + "M\x01", GS + "B\x01", FS + "&", FS + ".", FS + "!\x0c",  # styles, kanji
    GS + "(k\x03\x001A2", GS + "v0\x00\x01\x00\x01\x00\xff", GS + "L\x00\x01", GS + "W\x10\x00",  # QR, image, margins
    "\x07", "\x08", "\x09", "\x0b", "\x0c", "\x0d", "\x18", "\x7f", "\x85", "\u2028", "\u202e", "\u200b", "\ufeff",
]
NOTE_WITH_NUL = "extra salsa " + " ".join(HOSTILE) + " no onions"
# The sync contract refuses NUL anywhere in a body (no database text can hold it), so the note that reaches the
# printer has every other byte of those commands, NUL replaced by SOH (still a control byte the printer must not see).
NOTE = NOTE_WITH_NUL.replace("\x00", "\x01")
ALLOWED = {"code page", "print mode", "bold", "justify", "QR", "raster image", "feed lines", "cut", "kanji on",
           "kanji off"}


def mobile_order(note: str) -> bytes:
    body = {"order_id": str(uuid.uuid4()), "total_cents": 541, "note": note,
            "lines": [{"sku": "taco-fish", "name": "Fish taco" + ESC + "p\x01\x19\xfa", "quantity": 1,
                       "unit_price_cents": 500, "tax_rate_bp": 825}]}
    env = protocol.envelope(truck="truck-demo", seq=1, kind="mobile_order", key=body["order_id"],
                            ts=SAMPLE.local_time, body=body)
    return json.dumps(env).encode()


def test_a_mobile_order_whose_note_holds_nul_is_refused_by_the_contract_and_never_printed(wired, roll):
    inbox = Inbox("truck-demo", wired.clock, {"mobile_order": mobile_order_handler(wired.register, wired.db)},
                  on_ack=lambda body: (True, "ack"))
    ok, why = inbox.handle(protocol.down_topic("truck-demo", "mobile_order"), mobile_order(NOTE_WITH_NUL))
    assert not ok and "NUL" in why
    assert wired.printing.run_once() == 0 and roll.jobs == []


def test_a_mobile_order_note_full_of_escpos_commands_prints_as_text_only(wired, roll):
    inbox = Inbox("truck-demo", wired.clock, {"mobile_order": mobile_order_handler(wired.register, wired.db)},
                  on_ack=lambda body: (True, "ack"))
    ok, why = inbox.handle(protocol.down_topic("truck-demo", "mobile_order"), mobile_order(NOTE))
    assert ok, why
    assert wired.printing.run_once() == 1
    raw = roll.jobs[0]
    ticket = decode(raw)
    assert not ticket.stray_controls
    assert set(ticket.commands) <= ALLOWED
    assert ticket.commands.count("feed lines") == 1 and ticket.cuts == 1 and ticket.events[-1] == "cut"
    assert ticket.commands.count("code page") == 1  # the job's own, once, at the start
    for forbidden in (b"\x1bp", b"\x10\x14", b"\x10\x04", b"\x1b@", b"\x1bi", b"\x1bm", b"\x07", b"\x1bd\x50"):
        assert forbidden not in raw
    text = " ".join(ticket.texts)
    assert text.index("extra salsa") < text.index("no onions")  # the note's words survive, in order
    assert "1 x Fish taco" in " ".join(ticket.texts)
    assert ticket.max_columns() <= 48


@pytest.mark.parametrize("paper_mm", [58, 80])
def test_cjk_emoji_and_combining_accents_never_overflow_the_paper(paper_mm):
    profile, columns = PROFILES[paper_mm], COLUMNS[paper_mm]
    charset = capabilities(profile).charset
    for doc in (render_receipt(WORLD, columns, charset=charset), render_kitchen_ticket(WORLD, columns, charset=charset)):
        d = decode(render_bytes(doc, profile=profile), FAMILY[profile])
        assert d.max_columns() <= columns, [(ln.text, ln.columns) for ln in d.lines if ln.columns > columns]
        assert not d.stray_controls and set(d.commands) <= ALLOWED
        words = " ".join(d.texts).split()
        assert "猪肉饺子" in words and {"Café", "crème", "brûlée", "(Café"} <= set(words)  # CJK kept, accents composed
        text = " ".join(d.texts)
        assert "🌮" not in text and "?" in text  # no printer font has emoji: a visible ? instead
        assert "Zalgo" in words  # stray combining marks removed
    one_line = decode(render_bytes(render_kitchen_ticket(WORLD, columns, charset=charset), profile=profile),
                      FAMILY[profile])
    wide = [ln for ln in one_line.lines if "猪" in ln.text]
    assert wide and all(ln.columns <= columns for ln in wide)


def test_without_cjk_support_wide_characters_become_visible_placeholders():
    charset = capabilities("TM-T20II", cjk=False).charset
    d = decode(render_bytes(render_receipt(WORLD, 48, charset=charset), profile="TM-T20II"))
    assert "kanji on" not in d.commands and "猪" not in "".join(d.texts) and "????" in "".join(d.texts)
    assert d.max_columns() <= 48
