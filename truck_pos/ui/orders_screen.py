"""Recent orders: select one to reprint, void or refund (void/refund need a manager PIN)."""

from __future__ import annotations

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.screenmanager import Screen
from kivy.uix.scrollview import ScrollView

from truck_pos.domain.calendar import local
from truck_pos.domain.money import format_cents
from truck_pos.errors import TruckPosError
from truck_pos.ui import theme
from truck_pos.ui.i18n import N_, bind_text
from truck_pos.ui.pin_prompt import ManagerPinPrompt
from truck_pos.ui.widgets import MessageLine, TouchButton


class OrdersScreen(Screen):
    """The day's recent orders and what staff may do with them."""

    def __init__(self, app, **kwargs):
        super().__init__(name="orders", **kwargs)
        self.app = app
        self.selected: str | None = None
        root = BoxLayout(orientation="vertical", padding=4, spacing=4)
        scroll = ScrollView(do_scroll_x=False)
        self.list = GridLayout(cols=1, spacing=2, size_hint_y=None)
        self.list.bind(minimum_height=self.list.setter("height"))
        scroll.add_widget(self.list)
        root.add_widget(scroll)
        self.message = MessageLine(size_hint_y=None, height=theme.TOUCH * 0.7)
        root.add_widget(self.message)
        actions = BoxLayout(size_hint_y=None, height=theme.TOUCH, spacing=4)
        for text, color, handler in ((N_("Reprint"), theme.CARD, self.on_reprint), (N_("Void"), theme.WARN, self.on_void),
                                     (N_("Refund"), theme.WARN, self.on_refund)):
            b = bind_text(TouchButton(color=color), text)
            b.bind(on_release=lambda *_, h=handler: h())
            actions.add_widget(b)
        root.add_widget(actions)
        self.add_widget(root)

    def on_pre_enter(self, *args) -> None:
        self.refresh()

    def refresh(self) -> None:
        self.list.clear_widgets()
        tz = self.app.services.settings.truck.timezone
        for order in self.app.services.register.recent_orders(30):
            text = (f"#{order.number:<4} {local(order.created_utc, tz):%H:%M}  {order.channel:7} "
                    f"{order.status.replace('_', ' '):12} {format_cents(order.total_cents):>9}")
            b = TouchButton(text, color=theme.ACCENT if order.uuid == self.selected else theme.BUTTON, size_hint_y=None, height=theme.TOUCH)
            b.order_uuid = order.uuid
            b.bind(on_release=lambda btn: self.select(btn.order_uuid))
            self.list.add_widget(b)

    def select(self, order_uuid: str) -> None:
        self.selected = order_uuid
        self.refresh()

    def _need_selection(self) -> bool:
        if self.selected is None:
            self.message.show("Select an order first", error=True)
            return False
        return True

    def _run(self, action, *args, done: str) -> None:
        try:
            action(*args)
        except TruckPosError as exc:
            self.message.show(str(exc), error=True)
            return
        self.message.show(done)
        self.refresh()

    def on_reprint(self) -> None:
        if self._need_selection():
            self._run(self.app.services.printing.reprint, self.selected, done="Receipt sent to the printer")

    def on_void(self) -> None:
        if self._need_selection():
            ManagerPinPrompt("void", lambda pin: self._run(self.app.services.register.void_order, self.selected, pin,
                                                           "voided at the register", self.app.staff, done="Order voided")).open()

    def on_refund(self) -> None:
        if self._need_selection():
            ManagerPinPrompt("refund", lambda pin: self._run(self.app.services.register.refund_order, self.selected, pin,
                                                             "refunded at the register", self.app.staff, done="Order refunded")).open()
