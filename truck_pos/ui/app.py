"""The Kivy application: a status bar over a ScreenManager of screens, wired to the services."""

from __future__ import annotations

from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label
from kivy.uix.screenmanager import NoTransition, ScreenManager

from truck_pos.domain.calendar import local
from truck_pos.ui import theme
from truck_pos.ui.register_screen import RegisterScreen
from truck_pos.ui.widgets import Panel


class TruckPosApp(App):
    """The touchscreen register. Takes the already-built services; never reads config itself."""

    def __init__(self, services, **kwargs):
        super().__init__(**kwargs)
        self.services = services
        self.staff = None  # logged-in StaffMember (login screen comes with the full UI)
        self.title = f"truck_pos — {services.settings.truck.name}"

    def build(self):
        Window.clearcolor = theme.BG
        root = BoxLayout(orientation="vertical")
        bar = Panel(size_hint_y=None, height=theme.TOUCH * 0.6, padding=(8, 0))
        self.status = Label(halign="left", valign="middle", font_size=theme.FONT * 0.9)
        self.status.bind(size=lambda w, s: setattr(w, "text_size", s))
        bar.add_widget(self.status)
        root.add_widget(bar)
        self.screens = ScreenManager(transition=NoTransition())
        self.register_screen = RegisterScreen(self)
        self.screens.add_widget(self.register_screen)
        root.add_widget(self.screens)
        self.refresh_status()
        Clock.schedule_interval(lambda dt: self.refresh_status(), 1.0)
        return root

    def refresh_status(self) -> None:
        s = self.services.settings
        now = local(self.services.clock.now(), s.truck.timezone)
        who = self.staff.name if self.staff else "no one logged in"
        self.status.text = f"{s.truck.name} · {s.truck.stop} · {now:%H:%M} · {who}"
