"""Reach report per segment x channel x variant: what was sent (never a typed audience), what came back, A/B tests.

Attribution: a redemption's code is looked up by its normalized form's hash among the codes sends carried
(personal codes: exactly one send; a segment code in a page post: that post). Revenue is the redeemed
order's total as the truck sent it up.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from sync.hub.messaging.manners import code_key
from sync.hub.messaging.models import DEAD, SENT, SKIPPED, HubSend
from sync.hub.models import HubMessage

COLUMNS = ("segment", "channel", "variant", "sent", "delivered", "failed", "skipped", "unsubscribed", "redeemed",
           "revenue_cents", "conversion")


@dataclass
class Row:
    """Counts for one segment x channel x variant."""

    segment: str
    channel: str
    variant: str
    sent: int = 0  # handed to the channel (delivered + failed)
    delivered: int = 0  # accepted by the channel's server
    failed: int = 0
    skipped: int = 0  # not sent: no consent, no address, daily cap, erased
    unsubscribed: int = 0
    redeemed: int = 0
    revenue_cents: int = 0
    redemptions: set[str] = field(default_factory=set, repr=False)

    @property
    def conversion(self) -> float:
        return self.redeemed / self.delivered if self.delivered else 0.0


@dataclass(frozen=True)
class ABTest:
    """Two variants of one message compared on conversion (redeemed / delivered): two-proportion z-test."""

    segment: str
    channel: str
    a: str
    b: str
    rate_a: float
    rate_b: float
    z: float
    p_value: float


def two_proportion(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float]:
    """(z, two-sided p-value) for x1/n1 vs x2/n2 with the pooled proportion; (0, 1) when undefined."""
    if not n1 or not n2:
        return 0.0, 1.0
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 0.0, 1.0
    z = (x1 / n1 - x2 / n2) / se
    return z, math.erfc(abs(z) / math.sqrt(2))


def build(campaign_id: str) -> tuple[list[Row], list[ABTest]]:
    """The report rows (sorted) and the A/B comparisons of one campaign."""
    rows: dict[tuple[str, str, str], Row] = {}
    by_code: dict[str, tuple[str, str, str]] = {}
    for s in HubSend.select().where(HubSend.campaign_id == campaign_id):
        k = (s.segment, s.channel, s.variant or "-")
        r = rows.setdefault(k, Row(*k))
        r.delivered += s.state == SENT
        r.failed += s.state == DEAD
        r.skipped += s.state == SKIPPED
        r.unsubscribed += s.unsubscribed_at is not None
        if s.code_key and s.state == SENT:
            by_code.setdefault(s.code_key, k)  # a segment code: the first post that carried it
    for r in rows.values():
        r.sent = r.delivered + r.failed
    totals = _order_totals()
    for body in _redemptions(campaign_id):
        k = by_code.get(code_key(str(body.get("code", ""))))
        if k is None or body["redemption_id"] in rows[k].redemptions:
            continue
        rows[k].redemptions.add(body["redemption_id"])
        rows[k].redeemed += 1
        rows[k].revenue_cents += totals.get(body.get("order_id"), 0)
    ordered = sorted(rows.values(), key=lambda r: (r.segment, r.channel, r.variant))
    return ordered, ab_tests(ordered)


def _redemptions(campaign_id: str) -> list[dict]:
    query = HubMessage.select(HubMessage.body).where(HubMessage.kind == "redemption", HubMessage.status == "ok")
    return [b for (b,) in query.tuples() if isinstance(b, dict) and b.get("campaign_id") == campaign_id]


def _order_totals() -> dict[str, int]:
    query = HubMessage.select(HubMessage.body).where(HubMessage.kind == "order", HubMessage.status == "ok")
    return {b["order_id"]: int(b.get("total_cents", 0)) for (b,) in query.tuples() if isinstance(b, dict)}


def ab_tests(rows: list[Row]) -> list[ABTest]:
    """Each message with two or more variants: the first two variants compared."""
    groups: dict[tuple[str, str], list[Row]] = {}
    for r in rows:
        if r.variant != "-":
            groups.setdefault((r.segment, r.channel), []).append(r)
    out = []
    for (segment, channel), arms in groups.items():
        if len(arms) >= 2:
            a, b = arms[0], arms[1]
            z, p = two_proportion(a.redeemed, a.delivered, b.redeemed, b.delivered)
            out.append(ABTest(segment, channel, a.variant, b.variant, a.conversion, b.conversion, z, p))
    return out


def render_table(rows: list[Row], tests: list[ABTest]) -> str:
    """A plain-text table for the terminal."""
    lines = [f"{'segment':20} {'channel':9} {'var':4} {'sent':>6} {'deliv':>6} {'fail':>5} {'skip':>5} {'unsub':>5} "
             f"{'redeem':>6} {'revenue':>10} {'conv':>6}"]
    for r in rows:
        lines.append(f"{r.segment[:20]:20} {r.channel:9} {r.variant[:4]:4} {r.sent:6} {r.delivered:6} {r.failed:5} "
                     f"{r.skipped:5} {r.unsubscribed:5} {r.redeemed:6} {r.revenue_cents / 100:10.2f} {r.conversion:6.1%}")
    for t in tests:
        lines.append(f"A/B {t.segment} {t.channel}: {t.a} {t.rate_a:.1%} vs {t.b} {t.rate_b:.1%}, z={t.z:.2f}, p={t.p_value:.3f}")
    return "\n".join(lines) + "\n"


def render_csv(rows: list[Row]) -> str:
    """The rows as CSV (one header line)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(COLUMNS)
    for r in rows:
        w.writerow([r.segment, r.channel, r.variant, r.sent, r.delivered, r.failed, r.skipped, r.unsubscribed, r.redeemed,
                    r.revenue_cents, f"{r.conversion:.4f}"])
    return out.getvalue()


def copy_texts(campaign_id: str) -> list[tuple[str, str]]:
    """(channel, text) of every page post, for posting by hand where no account is connected."""
    return [(s.channel, s.text) for s in HubSend.select().where(HubSend.campaign_id == campaign_id,
                                                                HubSend.channel.in_(["facebook", "x"]), HubSend.state == SENT)]


def render_png(rows: list[Row], campaign_id: str, directory: str | Path) -> Path:
    """Bars of delivered and redeemed per segment x channel x variant (matplotlib, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r.segment}\n{r.channel} {r.variant}" for r in rows] or ["(nothing sent)"]
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(labels)), 4.5))
    xs = range(len(labels))
    ax.bar([x - 0.2 for x in xs], [r.delivered for r in rows] or [0], width=0.4, label="delivered")
    ax.bar([x + 0.2 for x in xs], [r.redeemed for r in rows] or [0], width=0.4, label="redeemed")
    ax.set_xticks(list(xs), labels, fontsize=7)
    ax.set_title(f"Reach: {campaign_id}")
    ax.legend()
    fig.tight_layout()
    path = Path(directory) / f"reach-{re.sub(r'[^A-Za-z0-9_.-]', '_', campaign_id)}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
