"""Menu settings: mark items sold out (greyed on the register) or back, one tap each."""

from __future__ import annotations

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.screenmanager import Screen
from kivy.uix.scrollview import ScrollView

from truck_pos.domain.money import format_cents
from truck_pos.errors import TruckPosError
from truck_pos.ui import theme
from truck_pos.ui.widgets import MessageLine, TouchButton


class MenuScreen(Screen):
    """Sold-out toggles; the change reaches the register at once (and the admin CLI within a second)."""

    def __init__(self, app, **kwargs):
        super().__init__(name="menu", **kwargs)
        self.app = app
        root = BoxLayout(orientation="vertical", padding=4, spacing=4)
        scroll = ScrollView(do_scroll_x=False)
        self.grid = GridLayout(cols=3, spacing=4, size_hint_y=None, row_default_height=theme.TOUCH * 1.2, row_force_default=True)
        self.grid.bind(minimum_height=self.grid.setter("height"))
        scroll.add_widget(self.grid)
        root.add_widget(scroll)
        self.message = MessageLine(size_hint_y=None, height=theme.TOUCH * 0.7)
        root.add_widget(self.message)
        self.add_widget(root)

    def on_pre_enter(self, *args) -> None:
        self.refresh()

    def refresh(self) -> None:
        self.grid.clear_widgets()
        for entry in self.app.services.menu.items():
            state = "SOLD OUT" if entry.sold_out else format_cents(entry.price_cents)
            b = TouchButton(f"{entry.name}\n{state}", color=theme.WARN if entry.sold_out else theme.BUTTON)
            b.bind(on_release=lambda btn, e=entry: self.toggle(e.sku, not e.sold_out, e.name))
            self.grid.add_widget(b)

    def toggle(self, sku: str, sold_out: bool, name: str) -> None:
        try:
            self.app.services.menu.set_sold_out(sku, sold_out)
        except TruckPosError as exc:
            self.message.show(str(exc), error=True)
            return
        self.message.show(f"{name} is {'sold out' if sold_out else 'back on the menu'}")
        self.refresh()
        self.app.register_screen.refresh_menu()
