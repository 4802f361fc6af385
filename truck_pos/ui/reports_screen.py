"""Today at a glance: goal progress, sales by segment and product, redemptions by channel, the segment chart."""

from __future__ import annotations

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label
from kivy.uix.screenmanager import Screen

from truck_pos.domain.money import format_cents
from truck_pos.ui import theme
from truck_pos.ui.i18n import _
from truck_pos.ui.chart import BarChart
from truck_pos.ui.widgets import Panel, TouchButton, wrap

MONO = "RobotoMono-Regular"


def _block(title: str) -> tuple[Panel, Label]:
    panel = Panel(orientation="vertical", padding=4)
    panel.add_widget(Label(text=title, color=theme.ACCENT, font_size=theme.FONT, size_hint_y=None, height=theme.TOUCH * 0.5))
    body = Label(text="", font_name=MONO, font_size=theme.FONT_SMALL, halign="left", valign="top")
    wrap(body)
    panel.add_widget(body)
    return panel, body


class ReportsScreen(Screen):
    """Built from ``services.reports.day_report()``; refreshed when shown or on request."""

    def __init__(self, app, **kwargs):
        super().__init__(name="reports", **kwargs)
        self.app = app
        root = BoxLayout(orientation="vertical", padding=4, spacing=4)
        top = BoxLayout(size_hint_y=None, height=theme.MIN_TOUCH, spacing=4)
        self.headline = Label(text="", font_size=theme.FONT_BIG * 0.8, halign="left", valign="middle", markup=True)
        wrap(self.headline)
        top.add_widget(self.headline)
        again = TouchButton(_("Refresh"), color=theme.BUTTON, size_hint_x=0.25, size_hint_y=None, height=theme.MIN_TOUCH)
        again.bind(on_release=lambda *_: self.refresh())
        top.add_widget(again)
        root.add_widget(top)
        row = BoxLayout(spacing=4)
        left = BoxLayout(orientation="vertical", spacing=4, size_hint_x=0.55)
        seg_panel, self.segments = _block("Sales by segment")
        chan_panel, self.channels = _block("Redemptions by channel")
        left.add_widget(seg_panel)
        left.add_widget(chan_panel)
        row.add_widget(left)
        right = BoxLayout(orientation="vertical", spacing=4)
        prod_panel, self.products = _block("Top products")
        right.add_widget(prod_panel)
        self.chart = BarChart()
        right.add_widget(self.chart)
        row.add_widget(right)
        root.add_widget(row)
        self.add_widget(root)

    def on_pre_enter(self, *args) -> None:
        self.refresh()

    def refresh(self) -> None:
        reports = self.app.services.reports
        report = reports.day_report()
        goal = next(iter(report.goals), None) or reports.goal_progress()
        self.headline.text = f"[b]{report.orders} order{'s' if report.orders != 1 else ''}, {format_cents(report.net_cents)}[/b]" + (f"   {goal.line()}" if goal else "")
        self.segments.text = "\n".join(f"{name[:16]:<16} {units:>3} {format_cents(cents):>9}"
                                       for name, (units, cents) in sorted(report.segments.items(), key=lambda kv: -kv[1][1])) or "no sales yet"
        self.channels.text = "\n".join(
            f"{c.channel[:9]:<9} {c.redemptions:>3} used" + (f" / {c.reach}" if c.reach is not None else "")
            for c in report.channels) or "no redemptions yet"
        top = sorted(report.products, key=lambda p: -p.net_cents)[:8]
        self.products.text = "\n".join(f"{p.name[:14]:<14} {p.units:>3} {format_cents(p.net_cents):>9}" for p in top) or "—"
        self.chart.set_data([(name, cents, format_cents(cents))
                             for name, (units, cents) in sorted(report.segments.items(), key=lambda kv: -kv[1][1])])
