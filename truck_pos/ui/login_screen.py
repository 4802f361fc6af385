"""Staff login: a PIN pad. The register locks back to this screen after inactivity."""

from __future__ import annotations

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label
from kivy.uix.screenmanager import Screen

from truck_pos.errors import TruckPosError
from truck_pos.ui import theme
from truck_pos.ui.i18n import bind_text
from truck_pos.ui.widgets import MessageLine, NumPad, TouchButton


class LoginScreen(Screen):
    """Enter a PIN; success hands the staff member to the app."""

    def __init__(self, app, **kwargs):
        super().__init__(name="login", **kwargs)
        self.app = app
        outer = BoxLayout(orientation="horizontal", padding=12, spacing=12)
        left = BoxLayout(orientation="vertical", spacing=8)
        left.add_widget(Label(text=app.services.settings.truck.name, font_size=theme.FONT_BIG * 1.3, color=theme.ACCENT))
        self.prompt = bind_text(Label(font_size=theme.FONT_BIG), "Enter your PIN")
        left.add_widget(self.prompt)
        self.dots = Label(text="", font_size=theme.FONT_HUGE * 0.6)
        left.add_widget(self.dots)
        self.message = MessageLine(size_hint_y=None, height=theme.TOUCH)
        left.add_widget(self.message)
        outer.add_widget(left)
        right = BoxLayout(orientation="vertical", spacing=4, size_hint_x=0.9)
        self.pad = NumPad(self._typed, max_len=8)
        right.add_widget(self.pad)
        enter = bind_text(TouchButton(color=theme.OK, font_size=theme.FONT_BIG, size_hint_y=None, height=theme.TOUCH * 1.2),
                          "Log in")
        enter.bind(on_release=lambda *_: self.on_login())
        right.add_widget(enter)
        outer.add_widget(right)
        self.add_widget(outer)

    def on_pre_enter(self, *args) -> None:
        status = self.app.services.staff.pin_status()  # "locked, ask a manager" / "wait N s" after wrong PINs
        if status:
            self.message.show(status, error=True)

    def _typed(self, digits: str) -> None:
        self.dots.text = "•" * len(digits)

    def on_login(self) -> None:
        try:
            member = self.app.services.staff.login(self.pad.value)
        except TruckPosError as exc:
            self.message.show(str(exc), error=True)
            self.pad.clear()
            return
        self.pad.clear()
        self.app.logged_in(member)
