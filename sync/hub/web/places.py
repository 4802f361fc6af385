"""Where groups are: stops (from campaign documents) and the stops where group members joined; an SVG, no tiles.

Pure functions over plain values (the console reads the rows): ``group_points`` places each group at
the stops its members joined at, ``suggest`` ranks candidate stops by the members of groups nearby,
with the reason in words, and ``svg`` draws both on an equirectangular projection.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from html import escape

NEAR_KM = 1.5
W, H, PAD = 640, 400, 40


@dataclass(frozen=True)
class GroupPoint:
    """Members of one group who joined at one stop."""

    group: str
    stop: str
    lat: float
    lon: float
    members: int


@dataclass(frozen=True)
class Suggestion:
    """A candidate stop, the members of groups near it, and why."""

    stop: str
    members: int
    reasons: tuple[str, ...]


def km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance (haversine, mean Earth radius)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(min(1.0, h)))


def group_points(joins: Iterable[Mapping[str, object]], stops: Mapping[str, tuple[float, float]]) -> list[GroupPoint]:
    """One point per (group, stop) from ``group_join`` bodies; members counted once per customer."""
    seen: dict[tuple[str, str], set[str]] = defaultdict(set)
    for body in joins:
        group, stop, who = body.get("group"), body.get("stop"), body.get("customer_ref")
        if isinstance(group, str) and isinstance(stop, str) and stop in stops and isinstance(who, str):
            seen[(group, stop)].add(who)
    return sorted((GroupPoint(g, s, *stops[s], len(m)) for (g, s), m in seen.items()),
                  key=lambda p: (-p.members, p.group, p.stop))


def suggest(points: list[GroupPoint], stops: Mapping[str, tuple[float, float]], near_km: float = NEAR_KM) -> list[Suggestion]:
    """Candidate stops ranked by the members of groups within ``near_km``, each with its reasons."""
    out = []
    for name, where in stops.items():
        near = [(p, km(where, (p.lat, p.lon))) for p in points]
        near = [(p, d) for p, d in near if d <= near_km]
        total = sum(p.members for p, _ in near)
        reasons = tuple(f"{p.group}: {p.members} member{'s' if p.members != 1 else ''} joined at {p.stop} ({d:.1f} km)"
                        for p, d in sorted(near, key=lambda x: (-x[0].members, x[1])))
        out.append(Suggestion(name, total, reasons))
    return sorted(out, key=lambda s: (-s.members, s.stop))


def svg(points: list[GroupPoint], stops: Mapping[str, tuple[float, float]]) -> str:
    """An inline SVG: stops as labelled squares, groups as circles sized by members (labelled)."""
    coords = list(stops.values()) + [(p.lat, p.lon) for p in points]
    if not coords:
        return ""
    lats, lons = [c[0] for c in coords], [c[1] for c in coords]
    span_lat, span_lon = max(max(lats) - min(lats), 1e-3), max(max(lons) - min(lons), 1e-3)
    kx = math.cos(math.radians(sum(lats) / len(lats)))  # equirectangular: shrink longitude by cos(latitude)
    scale = min((W - 2 * PAD) / (span_lon * kx), (H - 2 * PAD) / span_lat)

    mid_lat, mid_lon = (max(lats) + min(lats)) / 2, (max(lons) + min(lons)) / 2

    def xy(lat: float, lon: float) -> tuple[float, float]:  # centred, so one lone stop sits in the middle
        return W / 2 + (lon - mid_lon) * kx * scale, H / 2 - (lat - mid_lat) * scale

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" class="map" role="img" '
             f'aria-label="Groups and stops">', f'<rect width="{W}" height="{H}" class="map-bg"/>']
    stacked: Counter[str] = Counter()
    for p in points:
        x, y = xy(p.lat, p.lon)
        r = 6 + 4 * math.sqrt(p.members)
        stacked[p.stop] += 1
        dy = 14 * stacked[p.stop]
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" class="group" data-group="{escape(p.group)}" '
                     f'data-members="{p.members}"/>')
        parts.append(f'<text x="{x + r + 4:.1f}" y="{y + dy:.1f}" class="group-label">{escape(p.group)} ({p.members})</text>')
    for name, (lat, lon) in stops.items():
        x, y = xy(lat, lon)
        parts.append(f'<rect x="{x - 5:.1f}" y="{y - 5:.1f}" width="10" height="10" class="stop" data-stop="{escape(name)}"/>')
        parts.append(f'<text x="{x + 8:.1f}" y="{y - 8:.1f}" class="stop-label">{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)
