"""First start: with nobody on the staff list, the person at the screen creates the first manager."""

from __future__ import annotations

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label
from kivy.uix.screenmanager import Screen

from truck_pos.errors import TruckPosError
from truck_pos.ui import i18n, theme
from truck_pos.ui.i18n import _
from truck_pos.ui.widgets import KeyField, MessageLine, NumPad, TouchButton, wrap


class SetupScreen(Screen):
    """Name (on-screen keyboard), language, a PIN typed twice on the pad, then "Set up this register"."""

    def __init__(self, app, **kwargs):
        super().__init__(name="setup", **kwargs)
        self.app = app
        self.first_pin: str | None = None
        self.language = "en"
        outer = BoxLayout(orientation="horizontal", padding=8, spacing=8)
        left = BoxLayout(orientation="vertical", spacing=4)
        left.add_widget(Label(text="Set up this register", font_size=theme.FONT_BIG, color=theme.ACCENT,
                              size_hint_y=None, height=theme.MIN_TOUCH * 0.8))
        self.prompt = wrap(Label(text="", font_size=theme.FONT, halign="left", valign="middle"))
        left.add_widget(self.prompt)
        self.name_field = KeyField("text", hint_text="Manager's name")
        left.add_widget(self.name_field)
        langs = BoxLayout(size_hint_y=None, height=theme.MIN_TOUCH, spacing=4)
        self.lang_buttons = {}
        for code, label in i18n.LANGUAGES.items():
            b = TouchButton(label, color=theme.BUTTON)
            b.bind(on_release=lambda btn, c=code: self.pick_language(c))
            self.lang_buttons[code] = b
            langs.add_widget(b)
        left.add_widget(langs)
        self.dots = Label(text="", font_size=theme.FONT_BIG, size_hint_y=None, height=theme.MIN_TOUCH * 0.7)
        left.add_widget(self.dots)
        self.message = MessageLine(size_hint_y=None, height=theme.MIN_TOUCH)
        left.add_widget(self.message)
        outer.add_widget(left)
        right = BoxLayout(orientation="vertical", spacing=4, size_hint_x=0.8)
        self.pad = NumPad(lambda d: setattr(self.dots, "text", "•" * len(d)))
        right.add_widget(self.pad)
        self.go_btn = TouchButton("Next", color=theme.OK, size_hint_y=None, height=theme.TOUCH)
        self.go_btn.bind(on_release=lambda *_: self.on_next())
        right.add_widget(self.go_btn)
        outer.add_widget(right)
        self.add_widget(outer)
        self.reset()

    def reset(self) -> None:
        self.first_pin = None
        self.pad.clear()
        self.pick_language(self.language)
        self.prompt.text = "No staff yet. Type the manager's name, then choose a PIN (4-8 digits) on the pad."
        self.go_btn.text = "Next"

    def pick_language(self, code: str) -> None:
        self.language = code
        for c, b in self.lang_buttons.items():
            b.background_color = theme.ACCENT if c == code else theme.BUTTON

    def on_next(self) -> None:
        if self.first_pin is None:
            if not (self.pad.value.isdigit() and 4 <= len(self.pad.value) <= 8):
                self.message.show("A PIN is 4 to 8 digits", error=True)
                return
            self.first_pin = self.pad.value
            self.pad.clear()
            self.prompt.text = "Type the same PIN again."
            self.go_btn.text = "Set up this register"
            return
        try:
            member = self.app.services.first_start.create_manager(self.name_field.text, self.first_pin, self.pad.value,
                                                                  self.language)
        except TruckPosError as exc:
            self.reset()
            self.message.show(str(exc), error=True)
            return
        self.name_field.text = ""
        self.reset()
        self.app.logged_in(member)
        self.app.register_screen.message.show(_("Welcome, {name}. You are the manager of this register.").format(
            name=member.name))
