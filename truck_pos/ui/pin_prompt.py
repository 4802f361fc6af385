"""A popup asking for a manager PIN before a privileged action (void, refund, override)."""

from __future__ import annotations

from collections.abc import Callable

from kivy.app import App
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label
from kivy.uix.popup import Popup

from truck_pos.ui import theme
from truck_pos.ui.widgets import NumPad, TouchButton


class ManagerPinPrompt(Popup):
    """Calls ``on_pin(pin)`` with the digits typed; the service decides whether they are a manager's."""

    def __init__(self, action: str, on_pin: Callable[[str], None], status: str | None = None, **kwargs):
        body = BoxLayout(orientation="vertical", spacing=4)
        # Before anyone types: "Locked ..., ask a manager to unlock" or "wait N s" after wrong PINs.
        self.status = Label(text=_pin_status() if status is None else status, color=theme.WARN,
                            size_hint_y=None, height=theme.TOUCH * 0.5)
        body.add_widget(self.status)
        self.dots = Label(text="", font_size=theme.FONT_BIG, size_hint_y=None, height=theme.TOUCH * 0.8)
        body.add_widget(self.dots)
        self.pad = NumPad(lambda d: setattr(self.dots, "text", "•" * len(d)))
        body.add_widget(self.pad)
        row = BoxLayout(size_hint_y=None, height=theme.TOUCH, spacing=4)
        cancel = TouchButton("Cancel", color=theme.MUTED)
        cancel.bind(on_release=lambda *_: self.dismiss())
        ok = TouchButton(f"Approve {action}", color=theme.WARN)
        ok.bind(on_release=lambda *_: (self.dismiss(), on_pin(self.pad.value)))
        row.add_widget(cancel)
        row.add_widget(ok)
        body.add_widget(row)
        super().__init__(title=f"Manager PIN needed to {action}", content=body, size_hint=(0.6, 0.98), auto_dismiss=False, **kwargs)


def _pin_status() -> str:
    app = App.get_running_app()
    staff = getattr(getattr(app, "services", None), "staff", None)
    return staff.pin_status() if staff is not None else ""
