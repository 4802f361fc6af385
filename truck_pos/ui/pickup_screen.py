"""The pickup window: big "ready" numbers, the preparing list, and claim scanning.

Claims arrive from the serial scanner (polled on the UI thread from the scanner's own queue),
from a USB-HID scanner typing into the claim field, or typed by staff. The pickup service decides.
"""

from __future__ import annotations

import logging

from kivy.clock import Clock
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.label import Label
from kivy.uix.screenmanager import Screen
from kivy.uix.scrollview import ScrollView

from truck_pos.errors import TruckPosError
from truck_pos.ui import theme
from truck_pos.ui.i18n import bind_text
from truck_pos.ui.widgets import KeyField, MessageLine, Panel, TouchButton

log = logging.getLogger(__name__)
UNREADABLE = "Could not check that code - ask for the order number"


def _column(title: str) -> tuple[Panel, GridLayout]:
    panel = Panel(orientation="vertical", padding=4, spacing=4)
    panel.add_widget(Label(text=title, font_size=theme.FONT_BIG, size_hint_y=None, height=theme.TOUCH * 0.7, color=theme.ACCENT))
    scroll = ScrollView(do_scroll_x=False)
    grid = GridLayout(cols=1, spacing=4, size_hint_y=None)
    grid.bind(minimum_height=grid.setter("height"))
    scroll.add_widget(grid)
    panel.add_widget(scroll)
    return panel, grid


class PickupScreen(Screen):
    """Preparing | READY | collected, plus the claim field and the last scan's result."""

    def __init__(self, app, **kwargs):
        super().__init__(name="pickup", **kwargs)
        self.app = app
        root = BoxLayout(orientation="vertical", padding=4, spacing=4)
        columns = BoxLayout(spacing=4)
        prep_panel, self.preparing = _column("Preparing")
        ready_panel, self.ready = _column("READY")
        done_panel, self.collected = _column("Collected")
        ready_panel.size_hint_x = 1.3
        for p in (prep_panel, ready_panel, done_panel):
            columns.add_widget(p)
        root.add_widget(columns)
        row = BoxLayout(size_hint_y=None, height=theme.TOUCH, spacing=4)
        self.claim = KeyField("code", hint_text="Scan or type a claim code", height=theme.TOUCH)
        self.claim.bind(on_text_validate=lambda field: self.on_claim(field.text))
        row.add_widget(self.claim)
        go = bind_text(TouchButton(color=theme.OK, size_hint_x=0.35), "Hand over")
        go.bind(on_release=lambda *_: self.on_claim(self.claim.text))
        row.add_widget(go)
        root.add_widget(row)
        self.message = MessageLine(size_hint_y=None, height=theme.TOUCH * 0.9, font_size=theme.FONT_BIG)
        root.add_widget(self.message)
        self.add_widget(root)
        self._poll = None

    def on_pre_enter(self, *args) -> None:
        self.refresh()
        self._poll = Clock.schedule_interval(lambda dt: self.poll(), 0.25)

    def on_leave(self, *args) -> None:
        if self._poll is not None:
            self._poll.cancel()

    @property
    def pickup(self):
        return self.app.services.pickup

    def poll(self) -> None:
        """Take what the serial scanner read (its thread queues lines; we only drain here)."""
        scanner = self.app.services.scanner  # None unless [scanner] kind = serial
        if scanner is None:
            return
        try:
            while (line := scanner.read(timeout=0)) is not None:
                self.on_claim(line)
        except TruckPosError:  # unplugged: the status bar says so; typed codes still work
            pass

    def refresh(self) -> None:
        queue = self.pickup.queue()
        self.preparing.clear_widgets()
        for card in queue.preparing:
            label = f"#{card.number}{'  MOBILE' if card.channel == 'mobile' else ''}  {card.since}\n" + ", ".join(card.items)
            b = TouchButton(label, color=theme.BUTTON, size_hint_y=None, height=theme.TOUCH * 1.4)
            b.bind(on_release=lambda btn, u=card.order_uuid: self.on_ready(u))
            self.preparing.add_widget(b)
        self.ready.clear_widgets()
        for card in queue.ready:
            b = TouchButton(f"{card.number}", color=theme.OK, font_size=theme.FONT_HUGE, size_hint_y=None, height=theme.TOUCH * 1.6)
            b.bind(on_release=lambda btn, u=card.order_uuid: self.on_hand_over(u))
            self.ready.add_widget(b)
        self.collected.clear_widgets()
        for card in queue.handed_over:
            self.collected.add_widget(Label(text=f"#{card.number}  {card.since}", size_hint_y=None, height=theme.TOUCH * 0.7,
                                            color=theme.MUTED, font_size=theme.FONT))

    def _show(self, result) -> None:
        self.message.show(result.message, error=not result.ok, seconds=15)
        self.refresh()

    def on_claim(self, text: str) -> None:
        self.claim.text = ""
        if not text.strip():
            return
        try:
            self._show(self.pickup.scan(text))
        except TruckPosError as exc:
            self.message.show(str(exc), error=True)
        except Exception:  # typed or scanned text must never take the window down
            log.exception("pickup claim could not be checked")
            self.message.show(UNREADABLE, error=True)

    def on_ready(self, order_uuid: str) -> None:
        try:
            card = self.pickup.mark_ready(order_uuid)
            self.message.show(f"#{card.number} is ready")
        except TruckPosError as exc:
            self.message.show(str(exc), error=True)
        self.refresh()

    def on_hand_over(self, order_uuid: str) -> None:
        try:
            self._show(self.pickup.hand_over(order_uuid))
        except TruckPosError as exc:
            self.message.show(str(exc), error=True)
