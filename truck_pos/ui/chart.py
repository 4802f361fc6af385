"""A horizontal bar chart drawn with Kivy graphics (no matplotlib on the register)."""

from __future__ import annotations

from kivy.graphics import Color, Rectangle
from kivy.uix.label import Label
from kivy.uix.widget import Widget

from truck_pos.ui import theme


class BarChart(Widget):
    """``set_data([(label, value, value_text)])``: one bar per row, the label and value text at >= 14 px."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.rows: list[tuple[str, int, str]] = []
        self.labels: list[Label] = []
        self.bind(pos=lambda *_: self._draw(), size=lambda *_: self._draw())

    def set_data(self, rows: list[tuple[str, int, str]]) -> None:
        self.rows = rows[:8]
        self._draw()

    def _draw(self) -> None:
        self.canvas.clear()
        for label in self.labels:
            self.remove_widget(label)
        self.labels = []
        if not self.rows or self.height <= 0:
            return
        top = max(max(v for _, v, _ in self.rows), 1)
        row_h = self.height / len(self.rows)
        name_w = self.width * 0.38
        value_w = self.width * 0.22
        bar_w = max(self.width - name_w - value_w - 8, 1)
        for i, (name, value, text) in enumerate(self.rows):
            y = self.top - (i + 1) * row_h
            with self.canvas:
                Color(*theme.ACCENT)
                Rectangle(pos=(self.x + name_w + 4, y + row_h * 0.15), size=(bar_w * max(value, 0) / top, row_h * 0.7))
            for txt, x, w, align in ((name, self.x, name_w, "left"), (text, self.right - value_w, value_w, "right")):
                label = Label(text=txt, font_size=theme.FONT_SMALL, pos=(x, y), size=(w, row_h), halign=align,
                              valign="middle", shorten=True, shorten_from="right")
                label.text_size = label.size
                self.labels.append(label)
                self.add_widget(label)
