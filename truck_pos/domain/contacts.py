"""Contact details as people type them, normalized so the same person meets themselves. Pure.

Used by the truck's registration and by the hub's customer profiles (which may not import services).
"""

from __future__ import annotations

import re

from truck_pos.errors import InvalidInput

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalize_email(text: str | None) -> str | None:
    """'  Ana@Example.COM ' -> 'ana@example.com'; None/empty -> None; refuses what is not an address."""
    if not text or not text.strip():
        return None
    email = text.strip().lower()
    if not _EMAIL.match(email):
        raise InvalidInput(f"{text.strip()!r} does not look like an email address")
    return email


def normalize_phone(text: str | None, default_country: str = "1") -> str | None:
    """'(312) 555-0100' / '+1 312 555 0100' -> '+13125550100'; 10 digits get the default country code."""
    if not text or not text.strip():
        return None
    digits = re.sub(r"\D", "", text)
    if text.strip().startswith("+"):
        number = digits
    elif text.strip().startswith("00"):
        number = digits[2:]
    elif len(digits) == 10:
        number = default_country + digits
    else:
        number = digits
    if not 8 <= len(number) <= 15:
        raise InvalidInput(f"{text.strip()!r} does not look like a phone number")
    return "+" + number
