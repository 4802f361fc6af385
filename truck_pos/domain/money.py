"""Money as integer cents, and the one rounding rule we use (half up, away from zero)."""

from __future__ import annotations


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
    """'12.34' / '$12' / '12,5' -> cents. Raises ValueError on anything else."""
    cleaned = text.strip().replace("$", "").replace(" ", "")
    if cleaned.count(",") == 1 and "." not in cleaned:
        cleaned = cleaned.replace(",", ".")
    cleaned = cleaned.replace(",", "")
    if not cleaned or cleaned.startswith("-"):
        raise ValueError(f"not an amount: {text!r}")
    whole, _, frac = cleaned.partition(".")
    if not whole:
        whole = "0"
    if not whole.isdigit() or (frac and not frac.isdigit()) or len(frac) > 2:
        raise ValueError(f"not an amount: {text!r}")
    return int(whole) * 100 + int((frac + "00")[:2])


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
