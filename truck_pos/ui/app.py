"""The Kivy application: a status bar and nav row over a ScreenManager of screens, wired to the services."""

from __future__ import annotations

import gc
import importlib
import logging
import time

from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.screenmanager import NoTransition, ScreenManager

from truck_pos.domain.calendar import local
from truck_pos.ui import i18n, theme
from truck_pos.ui.i18n import N_, _, bind_text
from truck_pos.ui.keyboard import OnScreenKeyboard
from truck_pos.ui.status_bar import StatusBar, StatusSlot
from truck_pos.ui.widgets import Panel, TouchButton

log = logging.getLogger(__name__)

# Screens, each imported and built the first time it is shown or used: name -> (module, class).
SCREENS = {"login": ("truck_pos.ui.login_screen", "LoginScreen"),
           "register": ("truck_pos.ui.register_screen", "RegisterScreen"),
           "setup": ("truck_pos.ui.setup_screen", "SetupScreen"),
           "orders": ("truck_pos.ui.orders_screen", "OrdersScreen"),
           "pickup": ("truck_pos.ui.pickup_screen", "PickupScreen"),
           "customer": ("truck_pos.ui.customer_screen", "CustomerScreen"),
           "reports": ("truck_pos.ui.reports_screen", "ReportsScreen"),
           "menu": ("truck_pos.ui.menu_screen", "MenuScreen")}

# Screens the customer sees: no status bar, no staff navigation.
CUSTOMER_FACING = {"customer"}


class TruckPosApp(App):
    """The touchscreen register. Takes the already-built services; never reads config itself."""

    def __init__(self, services, *, require_login: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.services = services
        self.staff = None  # the logged-in StaffMember
        self.require_login = require_login
        self.title = f"truck_pos — {services.settings.truck.name}"
        self._last_touch = time.monotonic()
        self.keyboard = OnScreenKeyboard()

    # --- layout ----------------------------------------------------------------------------
    def build(self):
        Window.clearcolor = theme.BG
        root = BoxLayout(orientation="vertical")
        self.keyboard.root = root
        self.chrome = Panel(orientation="vertical", size_hint_y=None, height=theme.STATUS_H + theme.NAV_H)
        self.status = StatusBar(self.status_slots())
        self.chrome.add_widget(self.status)
        nav = BoxLayout(size_hint_y=None, height=theme.NAV_H, spacing=3, padding=(3, 0, 3, 2))
        self.nav: dict[str, TouchButton] = {}
        for name, text in self.nav_items():
            b = bind_text(TouchButton(color=theme.BUTTON, font_size=theme.FONT), text)
            b.bind(on_release=lambda btn, n=name: self.go(n))
            self.nav[name] = b
            nav.add_widget(b)
        self.chrome.add_widget(nav)
        root.add_widget(self.chrome)
        # Only the first screen shown is built at start (login, setup or register): a quicker start, fewer textures.
        self.screens = ScreenManager(transition=NoTransition())
        self._later = dict(SCREENS)
        root.add_widget(self.screens)
        Window.bind(on_touch_down=self._touched)
        self.lock() if self.require_login else self.go("register")
        self.refresh_status()
        Clock.schedule_interval(lambda dt: self.refresh_status(), 1.0)
        Clock.schedule_interval(lambda dt: self._check_auto_lock(), 5.0)
        return root

    def nav_items(self) -> list[tuple[str, str]]:
        return [("register", N_("Register")), ("pickup", N_("Pickup")), ("customer", N_("Customer view")),
                ("orders", N_("Orders")), ("reports", N_("Reports")), ("menu", N_("Menu")), ("lock", N_("Lock"))]

    def status_slots(self) -> list[StatusSlot]:
        """The bar's fixed slots, left to right; a feature appends its own (name, text provider)."""
        s = self.services
        slots = [
            StatusSlot("truck", lambda: s.settings.truck.name, 1.1, icon="truck"),
            StatusSlot("time", lambda: f"{local(s.clock.now(), s.settings.truck.timezone):%H:%M}", 0.55, icon="clock"),
            StatusSlot("who", lambda: self.staff.name if self.staff else _("locked"), 0.8, icon="person"),
            StatusSlot("sync", s.sync_status.line, 1.1, icon="sync"),
            StatusSlot("campaign", s.campaigns.status_line, 1.3, icon="campaign"),
            StatusSlot("printer", lambda: s.printing.printer_state().message, 1.1,
                       warn=lambda: not s.printing.printer_state().ok, icon="printer"),
        ]
        if s.scanner is not None:
            slots.append(StatusSlot("scanner", lambda: f"scanner {s.scanner.state}", 0.8, icon="scanner"))
        if s.proximity.scanner is not None:
            slots.append(StatusSlot("nearby", s.proximity.status_text, 1.0, icon="nearby"))
        return slots

    # --- popups and the keyboard -----------------------------------------------------------
    def open_popup(self, popup) -> None:
        """Open a popup; the keyboard stays on top of it and goes away with it."""
        popup.bind(on_dismiss=lambda *_: self.keyboard.hide())
        popup.open()
        self.keyboard.follow(popup)

    # --- navigation and login --------------------------------------------------------------
    def go(self, name: str) -> None:
        if name == "lock":
            self.lock()
            return
        if self.require_login and self.staff is None:
            name = "setup" if self.services.first_start.needed() else "login"
        self.keyboard.hide()
        self.show_screen(name)
        self._show_chrome(name not in CUSTOMER_FACING)
        for n, b in self.nav.items():
            b.background_color = theme.ACCENT if n == name else theme.BUTTON
            b.disabled = name in ("login", "setup") and n != "lock"

    def show_screen(self, name: str) -> None:
        """Make ``name`` the current screen, building it first if it has not been shown yet."""
        self.screen(name)
        self.screens.current = name

    def screen(self, name: str):
        """The screen called ``name``, imported and built on first use."""
        where = self._later.pop(name, None)
        if where is not None:
            module, cls = where
            self.screens.add_widget(getattr(importlib.import_module(module), cls)(self))
        return self.screens.get_screen(name)

    @property
    def register_screen(self):
        return self.screen("register")

    @property
    def login_screen(self):
        return self.screen("login")

    def _show_chrome(self, visible: bool) -> None:
        """Staff controls (status and nav) are gone, not just hidden, while the customer holds the screen."""
        self.chrome.height = theme.STATUS_H + theme.NAV_H if visible else 0
        self.chrome.opacity = 1 if visible else 0
        self.chrome.disabled = not visible

    def logged_in(self, member) -> None:
        self.staff = member
        i18n.set_language(getattr(member, "language", "en"))
        self._last_touch = time.monotonic()
        self.register_screen.refresh_ticket()
        self.go("register")

    def lock(self) -> None:
        self.staff = None
        i18n.set_language("en")
        self.keyboard.hide()
        self.show_screen("setup" if self.services.first_start.needed() else "login")
        self._show_chrome(True)
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
        Window.bind(on_flip=self._first_frame)

    def _first_frame(self, *_) -> None:
        """The screen is up: start the devices that run in their own threads (print worker, scanner, radio).

        They start after the first frame so that they do not compete with it for the CPU. What the start made
        lives for good (``gc.freeze``) and the collector runs again: ``truck-pos`` holds it while it starts
        (``truck_pos.__main__.hold_collector``); when it runs already (tests, other entry points) nothing changes.
        """
        Window.unbind(on_flip=self._first_frame)
        if not gc.isenabled():
            gc.freeze()
            gc.enable()
        self.services.printing.start()  # it also prints mobile orders
        if self.services.scanner is not None:  # only with [scanner] kind = serial
            self.services.scanner.start()
        self.services.proximity.start_scanning()  # does nothing without a radio

    def on_stop(self) -> None:
        if self.services.scanner is not None:
            self.services.scanner.stop()

    # --- status bar ------------------------------------------------------------------------
    def refresh_status(self) -> None:
        self.status.refresh()
