"""Money as integer cents, and the one rounding rule we use (half up, away from zero).

Amounts typed or written in documents are parsed as :class:`decimal.Decimal`, never through a
float and never truncated: "3.99" is 399 cents, "3.999" is refused rather than rounded.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation


def div_round_half_up(numerator: int, denominator: int) -> int:
    """Integer division rounding half away from zero (2.5 -> 3, -2.5 -> -3). Exact, no floats."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    sign = -1 if numerator < 0 else 1
    q, r = divmod(abs(numerator), denominator)
    if 2 * r >= denominator:
        q += 1
    return sign * q


def format_cents(cents: int, symbol: str = "$") -> str:
    """1234 -> '$12.34'; -50 -> '-$0.50'."""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    return f"{sign}{symbol}{whole:,}.{frac:02d}"


def parse_cents(text: str) -> int:
    """'12.34' / '$12' / '12,5' -> cents. Raises ValueError on anything else (negative, 3 decimals, junk)."""
    if not isinstance(text, str):
        raise ValueError(f"not an amount: {text!r}")
    cleaned = text.strip().replace("$", "").replace(" ", "")
    if cleaned.count(",") == 1 and "." not in cleaned:
        cleaned = cleaned.replace(",", ".")
    cleaned = cleaned.replace(",", "")
    if not cleaned or cleaned.startswith("-"):
        raise ValueError(f"not an amount: {text!r}")
    whole, _, frac = cleaned.partition(".")
    if not (whole or "0").isascii() or not (whole or "0").isdigit() or (frac and not (frac.isascii() and frac.isdigit())):
        raise ValueError(f"not an amount: {text!r}")
    return decimal_to_cents(cleaned)


def decimal_to_cents(value: str | int | float | Decimal) -> int:
    """An amount in currency units (``"3.99"``, ``3.99``, ``Decimal("3.99")``) as exact cents (399).

    Floats are read through their shortest text (``repr``), so 3.99 is 399, not 398.99999.
    Raises ValueError for a non-number, NaN/infinity or more than two decimals.
    """
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        raise ValueError(f"not an amount: {value!r}")
    try:
        amount = Decimal(repr(value) if isinstance(value, float) else value)
    except (InvalidOperation, ValueError):
        raise ValueError(f"not an amount: {str(value)[:40]!r}") from None
    if not amount.is_finite():
        raise ValueError(f"not an amount: {str(value)[:40]!r}")
    if amount.adjusted() >= 15:  # before int(): "1e999999999" would build a billion-digit number
        raise ValueError(f"{str(value)[:40]} is too large an amount")
    cents = amount * 100
    if cents != cents.to_integral_value():
        raise ValueError(f"{str(value)[:40]} has more than two decimals")
    return int(cents)


def allocate(total: int, weights: list[int]) -> list[int]:
    """Split ``total`` cents over ``weights`` proportionally; parts sum exactly to ``total``.

    Largest-remainder method; ties go to the earlier weight. All-zero weights give all to none
    (returns zeros) unless total is zero.
    """
    if total < 0 or any(w < 0 for w in weights):
        raise ValueError("allocate takes non-negative amounts")
    weight_sum = sum(weights)
    if weight_sum == 0:
        if total:
            raise ValueError("cannot allocate a non-zero amount over zero weights")
        return [0] * len(weights)
    shares = [total * w // weight_sum for w in weights]
    remainders = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % weight_sum), i))
    for i in remainders[: total - sum(shares)]:
        shares[i] += 1
    return shares
