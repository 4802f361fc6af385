"""Small reusable widgets: touch-sized buttons, text fields for the on-screen keyboard, a message line, a keypad."""

from __future__ import annotations

from collections.abc import Callable

import kivy
from kivy.app import App
from kivy.clock import Clock
from kivy.graphics import Color, Rectangle
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.gridlayout import GridLayout
from kivy.uix.label import Label
from kivy.uix import textinput as _textinput
from kivy.uix.textinput import TextInput

from truck_pos.ui import theme

# Quiet start: a text field's first touch imports Kivy's clipboard, which probes xclip/xsel for a
# "cut buffer" (tracebacks and a CRITICAL line when they are absent). The register needs none.
kivy.kivy_options["cutbuffer"] = ()


class _LocalClipboard:
    """Copy/paste inside the register only; set before any TextInput imports Kivy's clipboard probing."""

    _data = ""

    def copy(self, data: str = "") -> None:
        self._data = data

    def paste(self) -> str:
        return self._data

    def get_types(self) -> list[str]:
        return ["text/plain"]


if _textinput.Clipboard is None:
    _textinput.Clipboard = _LocalClipboard()


def wrap(label: Label) -> Label:
    """Make a label's text wrap and align inside its own box (Kivy's text_size follows size)."""
    label.bind(size=label.setter("text_size"))
    return label


class TouchButton(Button):
    """A button at least one finger tall, flat coloured."""

    def __init__(self, text: str = "", color: tuple = theme.PANEL, **kwargs):
        kwargs.setdefault("font_size", theme.FONT)
        kwargs.setdefault("size_hint_min_y", theme.MIN_TOUCH)
        kwargs.setdefault("size_hint_min_x", theme.MIN_TOUCH)
        super().__init__(text=text, background_normal="", background_color=color, halign="center", valign="middle", **kwargs)
        self.bind(size=lambda w, s: setattr(w, "text_size", (s[0] - 8, None)))


class KeyField(TextInput):
    """A one-line text field typed with the on-screen keyboard (``kind`` picks its layout, see keyboard.py)."""

    def __init__(self, kind: str = "text", **kwargs):
        kwargs.setdefault("multiline", False)
        kwargs.setdefault("write_tab", False)
        kwargs.setdefault("font_size", theme.FONT)
        kwargs.setdefault("size_hint_y", None)
        kwargs.setdefault("height", theme.MIN_TOUCH)
        kwargs.setdefault("padding", (8, (kwargs["height"] - kwargs["font_size"] * 1.2) / 2))
        super().__init__(**kwargs)
        self.kind = kind
        self.unfocus_on_touch = False  # tapping a key must not take the field's focus (a scanner may type too)
        self.text_validate_unfocus = False  # a keyboard-mode scanner's Enter: stay ready for the next scan
        self.bind(focus=self._focused)

    def _focused(self, field, focused: bool) -> None:
        keyboard = getattr(App.get_running_app(), "keyboard", None)
        if focused and keyboard is not None:
            keyboard.attach(self)


class Panel(BoxLayout):
    """A BoxLayout with a solid background."""

    def __init__(self, color: tuple = theme.PANEL, **kwargs):
        super().__init__(**kwargs)
        with self.canvas.before:
            Color(*color)
            self._bg = Rectangle(pos=self.pos, size=self.size)
        self.bind(pos=lambda *_: setattr(self._bg, "pos", self.pos), size=lambda *_: setattr(self._bg, "size", self.size))


class MessageLine(Label):
    """One line that tells the person at the screen what just happened; errors in red, fade after a while."""

    def __init__(self, **kwargs):
        kwargs.setdefault("font_size", theme.FONT)
        super().__init__(markup=False, halign="left", valign="middle", **kwargs)
        wrap(self)
        self._clear_ev = None

    def show(self, text: str, error: bool = False, seconds: float = 8.0) -> None:
        self.text = text
        self.color = theme.WARN if error else theme.OK
        if self._clear_ev is not None:
            self._clear_ev.cancel()
        self._clear_ev = Clock.schedule_once(lambda dt: setattr(self, "text", ""), seconds)


class NumPad(GridLayout):
    """Digits, 00 and backspace; calls ``on_change(text)`` with the digits typed so far."""

    def __init__(self, on_change: Callable[[str], None], max_len: int = 8, **kwargs):
        super().__init__(cols=3, spacing=4, **kwargs)
        self.value = ""
        self.on_change = on_change
        self.max_len = max_len
        for key in ["1", "2", "3", "4", "5", "6", "7", "8", "9", "00", "0", "DEL"]:
            btn = TouchButton(key, font_size=theme.FONT_BIG, size_hint_min_y=None)
            btn.bind(on_release=self._press)
            self.add_widget(btn)

    def _press(self, btn: Button) -> None:
        if btn.text == "DEL":
            self.value = self.value[:-1]
        elif len(self.value) + len(btn.text) <= self.max_len:
            self.value += btn.text
        self.on_change(self.value)

    def clear(self) -> None:
        self.value = ""
        self.on_change("")
