"""Fixed receipts used by the golden-byte tests and by scripts/make_golden_receipts.py."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from truck_pos.devices.printer import capabilities, render_bytes
from truck_pos.domain.claims import make_claim
from truck_pos.domain.order import TenderEntry
from truck_pos.domain.receipt import DiscountLine, Document, ItemLine, ReceiptData, render_kitchen_ticket, render_receipt

FAKE_KEY = b"example-claim-key-not-a-secret!!"  # fixed so goldens are stable; real keys are random
ORDER_UUID = "5b3c1f0e-8a7d-4c2b-9e6f-0123456789ab"
CLAIM = make_claim(FAKE_KEY, "truck-demo", date(2026, 6, 1), 42, ORDER_UUID)

SAMPLE = ReceiptData(
    truck_name="Taco Truck Deluxe Supreme",
    stop="Main St & 5th, by the fountain near the old courthouse",
    local_time=datetime(2026, 6, 1, 12, 31, tzinfo=ZoneInfo("America/Chicago")),
    business_day="2026-06-01",
    number=42,
    channel="counter",
    items=(
        ItemLine("Carne asada burrito with extra everything and a very long name", 2, 2450,
                 ("extra cheese", "no onions")),
        ItemLine("Horchata", 1, 350),
        ItemLine("Supercalifragilisticexpialidocious-nachos", 1, 899),
    ),
    subtotal_cents=3699, tax_cents=284, total_cents=3613, tax_mode="exclusive",
    discounts=(DiscountLine("First hour 10% off", 370, code="EARLY10", segment="registered_nearby"),),
    tenders=(TenderEntry("cash", 3613, 4000, 387),),
    claim=CLAIM,
    registration_url="https://example.invalid/r/truck-demo",
    note="Allergy: peanuts",
)
MOBILE = ReceiptData(**{**SAMPLE.__dict__, "channel": "mobile", "number": 43, "tenders": (), "note": ""})
# Text from everywhere: CJK (two cells each), emoji (no printer font), decomposed accents, a Zalgo note.
WORLD = ReceiptData(**{**SAMPLE.__dict__, "items": (
    ItemLine("Pork dumplings 猪肉饺子 with chili oil", 1, 1250, ("辣", "no cilantro 🌶️")),
    ItemLine("Café crème brûlée (Cafe\u0301 cre\u0300me bru\u0302le\u0301e)", 2, 900, ("Ω ω ñ ß ŀ",)),
    ItemLine("🌮🌮🌮 Taco party 🎉 " + "🌯" * 40, 1, 4200),
    ItemLine("ｆｕｌｌｗｉｄｔｈ ＴＡＣＯ ラーメン 라면", 1, 1100),
), "note": "Z\u0335\u0321a\u0334l\u0336g\u0337o 👍🏽 ok", "truck_name": "Dumpling 饺子 Truck"})



PROFILES = {58: "POS-5890", 80: "TM-T20II"}
FAMILY = {"POS-5890": "zjiang", "TM-T20II": "epson"}  # which code page numbering the decoder uses
COLUMNS = {58: 32, 80: 48}


def documents() -> dict[str, tuple[Document, str]]:
    """name -> (document, printer profile); QR and cut as each profile says (POS-5890: image QR, no cutter)."""
    cs = {mm: capabilities(PROFILES[mm]).charset for mm in PROFILES}
    return {
        "receipt_80mm": (render_receipt(SAMPLE, COLUMNS[80], charset=cs[80]), PROFILES[80]),
        "receipt_58mm": (render_receipt(SAMPLE, COLUMNS[58], charset=cs[58]), PROFILES[58]),
        "kitchen_mobile_80mm": (render_kitchen_ticket(MOBILE, COLUMNS[80], charset=cs[80]), PROFILES[80]),
        "kitchen_58mm": (render_kitchen_ticket(SAMPLE, COLUMNS[58], charset=cs[58]), PROFILES[58]),
        "receipt_world_80mm": (render_receipt(WORLD, COLUMNS[80], charset=cs[80]), PROFILES[80]),
        "kitchen_world_58mm": (render_kitchen_ticket(WORLD, COLUMNS[58], charset=cs[58]), PROFILES[58]),
    }


def golden_bytes() -> dict[str, bytes]:
    return {name: render_bytes(doc, profile=profile) for name, (doc, profile) in documents().items()}
