"""Small line icons drawn with Kivy graphics (no icon font, no image files): one per status-bar slot.

Each glyph is a list of strokes in a unit box (0..1, y up); :class:`Icon` scales them to its size and
draws them in its colour. Unknown names draw nothing, so a slot without an icon still lays out.
"""

from __future__ import annotations

import math

from kivy.graphics import Color, Line
from kivy.properties import ListProperty, StringProperty
from kivy.uix.widget import Widget

Stroke = tuple[str, tuple[float, ...]]  # ("line", x0, y0, x1, y1, ...) closed with "loop", or ("circle", cx, cy, r)


def _arc(cx: float, cy: float, r: float, start_deg: float, end_deg: float, steps: int = 10) -> tuple[float, ...]:
    """Points on an arc, angles counter-clockwise from 3 o'clock."""
    pts: list[float] = []
    for i in range(steps + 1):
        a = math.radians(start_deg + (end_deg - start_deg) * i / steps)
        pts += [cx + r * math.cos(a), cy + r * math.sin(a)]
    return tuple(pts)


GLYPHS: dict[str, list[Stroke]] = {
    "truck": [("loop", (0.04, 0.32, 0.62, 0.32, 0.62, 0.82, 0.04, 0.82)),
              ("loop", (0.62, 0.32, 0.96, 0.32, 0.96, 0.56, 0.84, 0.70, 0.62, 0.70)),
              ("circle", (0.24, 0.2, 0.11)), ("circle", (0.76, 0.2, 0.11))],
    "clock": [("circle", (0.5, 0.5, 0.42)), ("line", (0.5, 0.82, 0.5, 0.5, 0.72, 0.5))],
    "person": [("circle", (0.5, 0.72, 0.17)), ("line", _arc(0.5, 0.08, 0.36, 0, 180))],
    "sync": [("line", _arc(0.5, 0.5, 0.36, 20, 160)), ("line", (0.06, 0.68, 0.16, 0.6, 0.28, 0.7)),
             ("line", _arc(0.5, 0.5, 0.36, 200, 340)), ("line", (0.94, 0.32, 0.84, 0.4, 0.72, 0.3))],
    "campaign": [("loop", (0.08, 0.38, 0.32, 0.38, 0.86, 0.12, 0.86, 0.88, 0.32, 0.62, 0.08, 0.62)),
                 ("line", (0.2, 0.38, 0.28, 0.12))],
    "printer": [("loop", (0.08, 0.3, 0.92, 0.3, 0.92, 0.66, 0.08, 0.66)),
                ("loop", (0.28, 0.66, 0.28, 0.92, 0.72, 0.92, 0.72, 0.66)),
                ("loop", (0.28, 0.3, 0.28, 0.06, 0.72, 0.06, 0.72, 0.3))],
    "scanner": [("line", (x, 0.15, x, 0.85)) for x in (0.1, 0.22, 0.3, 0.46, 0.56, 0.7, 0.78, 0.9)],
    "nearby": [("circle", (0.18, 0.5, 0.07)), ("line", _arc(0.18, 0.5, 0.36, -45, 45)),
               ("line", _arc(0.18, 0.5, 0.66, -40, 40))],
}


class Icon(Widget):
    """A line icon from :data:`GLYPHS`, square, centred in the widget, in ``color``."""

    name = StringProperty("")
    color = ListProperty([1, 1, 1, 1])

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.bind(pos=self._draw, size=self._draw, name=self._draw, color=self._draw)
        self._draw()

    @property
    def strokes(self) -> int:
        """How many strokes are drawn now (0: nothing on screen)."""
        return sum(1 for i in self.canvas.children if isinstance(i, Line))

    def _draw(self, *_) -> None:
        self.canvas.clear()
        glyph = GLYPHS.get(self.name)
        side = min(self.width, self.height)
        if not glyph or side <= 0:
            return
        x0, y0 = self.center_x - side / 2, self.center_y - side / 2
        width = 1.0  # 1 px lines: a wider Line builds a mesh per stroke (about 2.5 MB more for the bar)
        with self.canvas:
            Color(*self.color)
            for kind, data in glyph:
                if kind == "circle":
                    cx, cy, r = data
                    Line(circle=(x0 + cx * side, y0 + cy * side, r * side), width=width)
                else:
                    pts = [x0 + v * side if i % 2 == 0 else y0 + v * side for i, v in enumerate(data)]
                    Line(points=pts, width=width, close=kind == "loop")
