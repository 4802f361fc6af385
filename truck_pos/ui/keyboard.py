"""The on-screen keyboard: docked at the bottom of the window, never over the field being typed.

A ``KeyField`` (widgets.py) names its kind: ``numeric`` (digits), ``phone`` (digits and +),
``code`` (capitals and digits), ``email`` (compact QWERTY with @ and .com) or ``text`` (names).
When a field is tapped the keyboard slides in below the content: the app's root layout gets
bottom padding of the keyboard's height, and an open popup is moved above it, so the content
reflows instead of being covered. A physical keyboard or keyboard-mode scanner still types into
the focused field as before.
"""

from __future__ import annotations

from kivy.clock import Clock
from kivy.core.window import Window
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.modalview import ModalView
from kivy.uix.scrollview import ScrollView

from truck_pos.ui import theme
from truck_pos.ui.widgets import Panel, TouchButton

BACK, ENTER, SPACE, HIDE = "Del", "Enter", "space", "Hide"

LAYOUTS: dict[str, list[list[str]]] = {
    "numeric": [["1", "2", "3"], ["4", "5", "6"], ["7", "8", "9"], [HIDE, "0", BACK, ENTER]],
    "phone": [["1", "2", "3", "+"], ["4", "5", "6", "-"], ["7", "8", "9", BACK], [HIDE, "0", ENTER]],
    "code": [list("1234567890"), list("QWERTYUIOP"), list("ASDFGHJKL") + ["-"], list("ZXCVBNM") + [BACK],
             [HIDE, SPACE, ENTER]],
    "email": [list("1234567890"), list("qwertyuiop"), list("asdfghjkl") + ["_"], list("zxcvbnm") + ["-", BACK],
              [HIDE, "@", ".", ".com", ENTER]],
    "text": [list("qwertyuiop"), list("asdfghjkl") + ["'"], list("zxcvbnm") + [",", BACK], [HIDE, SPACE, ".", ENTER]],
}
ROW_H = theme.MIN_TOUCH + 4


class OnScreenKeyboard(Panel):
    """One instance per window; ``attach(field)`` shows the field's layout and types into it."""

    def __init__(self, **kwargs):
        super().__init__(orientation="vertical", color=(0.07, 0.07, 0.08, 1), padding=2, spacing=2,
                         size_hint=(1, None), height=0, pos=(0, 0), **kwargs)
        self.target = None
        self.kind: str | None = None
        self.shown = False
        self.root = None  # the app's root layout (padded while the keyboard is up)

    # --- showing ------------------------------------------------------------------------------
    def attach(self, field) -> None:
        """Type into ``field`` from now on (shows the keyboard with the field's layout)."""
        self.target = field
        kind = getattr(field, "kind", "text")
        if kind != self.kind:
            self._build(kind)
        self.show()

    def _build(self, kind: str) -> None:
        self.kind = kind
        self.clear_widgets()
        rows = LAYOUTS.get(kind, LAYOUTS["text"])
        for keys in rows:
            row = BoxLayout(spacing=2)
            for key in keys:
                color = theme.OK if key == ENTER else theme.MUTED if key in (HIDE, BACK) else theme.BUTTON
                b = TouchButton(key, color=color, font_size=theme.FONT_BIG if len(key) == 1 else theme.FONT,
                                size_hint_min_y=None, size_hint_x=3 if key == SPACE else 1)
                b.key = key
                b.bind(on_press=self._press)  # on press: a quick typist's next tap never waits for this release
                row.add_widget(b)
            self.add_widget(row)
        self.height = ROW_H * len(rows) + 4

    def show(self) -> None:
        """Dock at the bottom, topmost; push the content and any popup above it."""
        if self.parent is not None:
            Window.remove_widget(self)
        Window.add_widget(self)  # last added: drawn on top and first to get touches
        self.shown = True
        self._make_room()

    def hide(self) -> None:
        """Put the keyboard away and give the content its room back."""
        if not self.shown:
            return
        if self.target is not None:
            self.target.focus = False
        self.target = None
        self.shown = False
        if self.parent is not None:
            Window.remove_widget(self)
        self._make_room()

    def _make_room(self) -> None:
        height = self.height if self.shown else 0
        if self.root is not None:
            self.root.padding = (0, 0, 0, height)
        for view in Window.children:
            if not isinstance(view, ModalView):
                continue
            if height:
                if not hasattr(view, "kb_saved"):
                    view.kb_saved = (view.size_hint_y, dict(view.pos_hint))
                view.size_hint_y = None
                view.height = Window.height - height
                view.pos_hint = {"top": 1, "center_x": 0.5}
            elif hasattr(view, "kb_saved"):
                view.size_hint_y, view.pos_hint = view.kb_saved
                del view.kb_saved
        if self.shown:
            Clock.schedule_once(lambda dt: self._reveal(), 0)  # after the layout made room

    def _reveal(self) -> None:
        """A field inside a scrolling form is scrolled into the part of the screen the keyboard leaves."""
        widget = self.target
        while widget is not None and widget.parent is not widget:
            parent = widget.parent
            if isinstance(parent, ScrollView):
                parent.scroll_to(self.target, padding=4, animate=False)
                return
            widget = parent

    def follow(self, view: ModalView) -> None:
        """A popup was just opened: keep the keyboard on top of it (and the popup above the keyboard)."""
        if self.shown:
            self.show()

    # --- typing -------------------------------------------------------------------------------
    def _press(self, button) -> None:
        field = self.target
        if field is None:
            return
        key = button.key
        if key == HIDE:
            self.hide()
        elif key == BACK:
            field.do_backspace()
        elif key == ENTER:
            field.dispatch("on_text_validate")
            if self.target is field and getattr(field, "hide_on_enter", True):
                self.hide()
        else:
            text = " " if key == SPACE else key
            if self.kind == "text" and (not field.text or field.text.endswith(" ")):
                text = text.upper()  # names: a capital at the start of each word
            field.insert_text(text)
