"""Regenerate tests/data/receipts/*.bin from tests/printing/receipt_samples.py, on purpose only.

    python scripts/make_golden_receipts.py            # write the .bin files and a readable .txt beside each

The golden files are reviewed artifacts: the tests compare the renderer's bytes with the committed files
and decode the committed files with the reference decoder; they never write them. After a deliberate
layout change, run this, read the .txt dumps (and `git diff`), and commit both.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "printing")]

from escpos_decode import decode  # noqa: E402
from receipt_samples import FAMILY, documents, golden_bytes  # noqa: E402


def main() -> None:
    out = ROOT / "tests" / "data" / "receipts"
    out.mkdir(parents=True, exist_ok=True)
    docs = documents()
    for name, data in golden_bytes().items():
        (out / f"{name}.bin").write_bytes(data)
        decoded = decode(data, FAMILY[docs[name][1]])
        text = "\n".join(f"|{line.text}|" + (" [2x]" if line.double_width else "") for line in decoded.lines)
        (out / f"{name}.txt").write_text(f"{text}\nQR: {decoded.qr_payloads}\nimages: {decoded.images} "
                                         f"(QR read back: {decoded.image_qr_payloads})\n"
                                         f"cuts: {decoded.cuts}\n", "utf-8")
        print(f"{name}: {len(data)} bytes, {len(decoded.lines)} lines, widest {decoded.max_columns()} cells")


if __name__ == "__main__":
    main()
