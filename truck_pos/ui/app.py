"""The Kivy application: a status/nav bar over a ScreenManager of screens, wired to the services."""

from __future__ import annotations

import logging
import time

from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label
from kivy.uix.screenmanager import NoTransition, ScreenManager

from truck_pos.domain.calendar import local
from truck_pos.ui import theme
from truck_pos.ui.login_screen import LoginScreen
from truck_pos.ui.menu_screen import MenuScreen
from truck_pos.ui.orders_screen import OrdersScreen
from truck_pos.ui.customer_screen import CustomerScreen
from truck_pos.ui.pickup_screen import PickupScreen
from truck_pos.ui.reports_screen import ReportsScreen
from truck_pos.ui.register_screen import RegisterScreen
from truck_pos.ui.widgets import Panel, TouchButton, wrap

log = logging.getLogger(__name__)


class TruckPosApp(App):
    """The touchscreen register. Takes the already-built services; never reads config itself."""

    def __init__(self, services, *, require_login: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.services = services
        self.staff = None  # the logged-in StaffMember
        self.require_login = require_login
        self.title = f"truck_pos — {services.settings.truck.name}"
        self._last_touch = time.monotonic()

    # --- layout ----------------------------------------------------------------------------
    def build(self):
        Window.clearcolor = theme.BG
        root = BoxLayout(orientation="vertical")
        bar = Panel(size_hint_y=None, height=theme.TOUCH * 0.75, padding=(6, 2), spacing=4)
        self.status = Label(halign="left", valign="middle", font_size=theme.FONT * 0.72, markup=True)
        wrap(self.status)
        bar.add_widget(self.status)
        self.nav: dict[str, TouchButton] = {}
        for name, text in self.nav_items():
            b = TouchButton(text, color=theme.BUTTON, size_hint_x=None, width=theme.TOUCH * 1.2, size_hint_min_y=None,
                            font_size=theme.FONT * 0.78)
            b.bind(on_release=lambda btn, n=name: self.go(n))
            self.nav[name] = b
            bar.add_widget(b)
        root.add_widget(bar)
        self.screens = ScreenManager(transition=NoTransition())
        self.login_screen = LoginScreen(self)
        self.register_screen = RegisterScreen(self)
        self.screens.add_widget(self.login_screen)
        self.screens.add_widget(self.register_screen)
        self.screens.add_widget(OrdersScreen(self))
        self.screens.add_widget(PickupScreen(self))
        self.screens.add_widget(CustomerScreen(self))
        self.screens.add_widget(ReportsScreen(self))
        self.screens.add_widget(MenuScreen(self))
        root.add_widget(self.screens)
        Window.bind(on_touch_down=self._touched)
        self.lock() if self.require_login else self.go("register")
        self.refresh_status()
        Clock.schedule_interval(lambda dt: self.refresh_status(), 1.0)
        Clock.schedule_interval(lambda dt: self._check_auto_lock(), 5.0)
        return root

    def nav_items(self) -> list[tuple[str, str]]:
        return [("register", "Register"), ("pickup", "Pickup"), ("customer", "Customer"), ("orders", "Orders"),
                ("reports", "Reports"), ("menu", "Menu"), ("lock", "Lock")]

    # --- navigation and login --------------------------------------------------------------
    def go(self, name: str) -> None:
        if name == "lock":
            self.lock()
            return
        if self.require_login and self.staff is None:
            name = "login"
        self.screens.current = name
        for n, b in self.nav.items():
            b.background_color = theme.ACCENT if n == name else theme.BUTTON
            b.disabled = self.screens.current == "login" and n != "lock"

    def logged_in(self, member) -> None:
        self.staff = member
        self._last_touch = time.monotonic()
        self.go("register")

    def lock(self) -> None:
        self.staff = None
        self.screens.current = "login"
        for b in self.nav.values():
            b.disabled = True

    def _touched(self, *args) -> None:
        self._last_touch = time.monotonic()

    def _check_auto_lock(self) -> None:
        limit = self.services.settings.security.auto_lock_s
        if self.require_login and self.staff is not None and limit > 0 and time.monotonic() - self._last_touch > limit:
            log.info("auto-lock after %s s without a touch", limit)
            self.lock()

    def on_start(self) -> None:
        """Start the devices that run in their own threads: the print worker (it also prints mobile orders), scanner, radio."""
        self.services.printing.start()
        if self.services.scanner is not None:  # only with [scanner] kind = serial
            self.services.scanner.start()
        self.services.proximity.start_scanning()  # does nothing without a radio

    def on_stop(self) -> None:
        if self.services.scanner is not None:
            self.services.scanner.stop()

    # --- status bar ------------------------------------------------------------------------
    def refresh_status(self) -> None:
        s = self.services.settings
        now = local(self.services.clock.now(), s.truck.timezone)
        who = self.staff.name if self.staff else "locked"
        first = [f"[b]{s.truck.name}[/b]", f"{now:%H:%M}", who]
        self.status.text = " · ".join(first) + "\n" + " · ".join(self.device_status())

    def device_status(self) -> list[str]:
        """Short states for the bar; each answers from memory or one quick query (never the network)."""
        s = self.services
        state = s.printing.printer_state()
        parts = [s.sync_status.line(), s.campaigns.status_line(),
                 f"[color={'ffffff' if state.ok else 'ff6655'}]{state.message}[/color]"]
        if s.scanner is not None:
            parts.append(f"scanner {s.scanner.state}")
        if s.proximity.scanner is not None:
            parts.append(s.proximity.status_text())
        return parts
