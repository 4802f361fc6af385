"""Real input for the UI tests: find what a finger could reach, tap it with X events (xdotool), type keys.

Imported by ui_driver.py after Kivy is configured (a window of the requested size).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from kivy.core.window import Window
from kivy.uix.label import Label
from kivy.uix.modalview import ModalView
from kivy.uix.screenmanager import Screen
from kivy.uix.scrollview import ScrollView
from kivy.uix.stencilview import StencilView

def visible(w) -> bool:
    """On screen, not faded out, not disabled, its centre inside the window and inside every clipping
    (scrolling) parent, so a finger could really reach it."""
    x, y = w.to_window(*w.center)
    node = w.parent
    while node is not None and node is not node.parent and hasattr(node, "opacity"):
        if node.opacity == 0:
            return False
        if isinstance(node, Screen) and node.manager is not None and node.manager.current_screen is not node:
            return False  # a screen on its way out
        if isinstance(node, StencilView):
            left, bottom = node.to_window(node.x, node.y)
            if not (left <= x < left + node.width and bottom <= y < bottom + node.height):
                return False
        node = node.parent
    return not w.disabled and w.opacity > 0 and 0 <= x < Window.width and 0 <= y < Window.height


class NotReady(LookupError):
    """The target is not (yet) where a finger could tap it; the step loop tries again for a few seconds."""


def find_button(root, text: str):
    """An enabled button showing ``text`` (exact match first, else prefix); the topmost layer first
    (keyboard, popups, then the screen)."""
    for top in Window.children:
        if isinstance(top, ModalView) and not top._is_open:  # fading out after dismiss: neither there nor covering
            continue
        if isinstance(top, ModalView) and top._anim_alpha < 1:  # still opening: its content is not laid out yet
            raise NotReady(f"popup {getattr(top, 'title', '')!r} still opening")
        buttons = [w for w in top.walk(restrict=True) if hasattr(w, "trigger_action") and visible(w)]
        for match in (lambda t: t == text, lambda t: t.startswith(text)):
            for w in buttons:
                if match(str(getattr(w, "text", ""))):
                    return w
        if isinstance(top, ModalView):  # a popup covers everything below it: a finger cannot reach that
            break
    layers = [(type(t).__name__, getattr(t, "_is_open", None)) for t in Window.children]
    raise NotReady(f"no enabled button {text!r} on screen (layers {layers})")


def _parents(w):
    while w.parent is not None and w.parent is not w:
        w = w.parent
        yield w


SCROLL_SETTLE, QUICK_SETTLE = 0.3, 0.08


class X:
    """Real input: xdotool sends X events (XTEST) to the Kivy window; we count the touches Kivy delivered."""

    ups = 0
    expected = 0
    settle = QUICK_SETTLE

    @classmethod
    def start(cls) -> None:
        cls.wid = str(Window.get_window_info().window)
        Window.bind(on_touch_up=cls._up)

    @classmethod
    def _up(cls, *args) -> None:
        if os.environ.get("UI_DEBUG"):
            print("touch up", args[1].pos, flush=True)
        cls.ups += 1

    @classmethod
    def point(cls, widget) -> tuple[int, int]:
        wx, wy = widget.to_window(*widget.center)
        return int(wx), int(Window.height - wy)  # X counts y from the top, Kivy from the bottom

    @classmethod
    def click(cls, widget, steady: int = 0):
        x, y = cls.point(widget)
        if os.environ.get("UI_DEBUG"):
            print("click", repr(getattr(widget, "text", widget)), x, y, widget.pos, widget.size,
                  [(type(p).__name__, tuple(p.pos), tuple(p.size)) for p in _parents(widget) if hasattr(p, "pos")], flush=True)
        # Two X requests, as a finger would: the pointer arrives, then presses (SDL drops a press that
        # comes in the same burst as the motion that brought the pointer there).
        subprocess.run(["xdotool", "mousemove", "--window", cls.wid, str(x), str(y)], check=True)

        def press():  # run by the step loop once Kivy has had a frame to see the pointer arrive
            if cls.point(widget) != (x, y) or not visible(widget):  # the layout was still settling: follow it
                return cls.click(widget)
            if steady < 1:  # the same place over two frames (a scroll view may still be placing its content)
                return cls.click(widget, steady + 1)
            subprocess.run(["xdotool", "click", "1"], check=True)
            cls.expected += 1
            # Inside a scroll view Kivy delivers the release 0.2 s after the finger lifts: wait that long.
            cls.settle = SCROLL_SETTLE if any(isinstance(p, ScrollView) for p in _parents(widget)) else QUICK_SETTLE
        return press

    @classmethod
    def type(cls, text: str) -> None:
        """What a keyboard-mode scanner does: keys into the focused window, then Return."""
        subprocess.run(["xdotool", "windowfocus", "--sync", cls.wid], check=False)
        subprocess.run(["xdotool", "type", "--delay", "15", text], check=True)
        subprocess.run(["xdotool", "key", "Return"], check=True)


def tap(app, text: str):
    return X.click(find_button(app.root, text))


def tap_widget(widget):
    return X.click(widget)


def type_digits(app, digits: str):
    for d in digits:
        yield lambda d=d: tap(app, d)


def key_taps(app, text: str):
    """Type on the on-screen keyboard: one real tap per key."""
    for ch in text:
        key = {" ": "space"}.get(ch, ch)
        yield lambda k=key: X.click(next(b for b in app.keyboard.walk(restrict=True) if getattr(b, "key", None) == k))


def screenshot(out: Path, name: str) -> None:
    """Save the whole window (popups included) as OUTPUT_DIR/<name>.png."""
    made = Window.screenshot(name=str(out / f"{name}-tmp.png"))  # Kivy adds a counter to the name
    os.replace(made, out / f"{name}.png")


class Until:
    """A step that waits (up to ``timeout`` s) until ``check()`` is true."""

    def __init__(self, check, timeout: float = 10.0):
        self.check = check
        self.timeout = timeout



def _chain(first, rest):
    yield first
    yield from rest



TOUCHABLE = ("Button", "ToggleButton", "CheckBox", "TextInput", "KeyField", "TouchButton")


def audit(app, result: dict, where: str) -> None:
    """Every visible touch target >= 48 px both ways; every visible text >= 14 px; status slots inside the bar."""
    small, tiny = [], []
    for top in Window.children:
        for w in top.walk(restrict=True):
            kind = type(w).__name__
            shown = w.width > 0 and w.height > 0 and visible_any(w)
            if not shown:
                continue
            if kind in TOUCHABLE and (w.width < 47.5 or w.height < 47.5):
                small.append(f"{kind} {str(getattr(w, 'text', ''))[:20]!r} {w.width:.0f}x{w.height:.0f}")
            if hasattr(w, "font_size") and getattr(w, "text", "") and w.font_size < 13.9:
                tiny.append(f"{kind} {str(w.text)[:20]!r} {w.font_size:.1f}px")
            if isinstance(w, Label) and not hasattr(w, "trigger_action") and w.text and w.texture_size[1] > w.height + 2:
                tiny.append(f"{kind} {str(w.text)[:20]!r} cut: {w.texture_size[1]:.0f} px of text in {w.height:.0f} px")
    result.setdefault("small_targets", {})[where] = small
    result.setdefault("tiny_text", {})[where] = tiny
    bar = app.status
    result.setdefault("status_overflow", {})[where] = [
        name for name, label in bar.labels.items()
        if label.texture_size[0] > label.width + 1 or label.right > Window.width + 1]
    # Every slot shows its icon: drawn (strokes on its canvas), at least 14 px, left of its text, inside the bar.
    result.setdefault("status_icons", {})[where] = [] if app.chrome.opacity == 0 else [  # the customer's view: no bar
        name for name, label in bar.labels.items()
        if not (getattr(bar, "icons", {}).get(name) is not None and bar.icons[name].strokes > 0
                and min(bar.icons[name].size) >= 14 and bar.icons[name].right <= label.x + 1
                and bar.y - 1 <= bar.icons[name].y and bar.icons[name].top <= bar.top + 1)]


def visible_any(w) -> bool:
    """Like visible() but for any widget, disabled or not."""
    x, y = w.to_window(*w.center)
    node = w
    while node is not None and node is not node.parent and hasattr(node, "opacity"):
        if node.opacity == 0:
            return False
        if isinstance(node, Screen) and node.manager is not None and node.manager.current_screen is not node:
            return False
        node = node.parent
    return 0 <= x < Window.width and 0 <= y < Window.height
