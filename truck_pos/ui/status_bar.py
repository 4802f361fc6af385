"""The status bar: fixed slots that never push each other out of view.

Each slot is a (name, text provider, icon) with a fixed share of the width: a small line icon
(truck, clock, person, sync, campaign, printer, scanner, nearby) then its text; text that does not
fit is ellipsized inside its own slot, so a long campaign name can never hide the truck, the time or
who is logged in. Features add a slot with ``StatusBar.add_slot`` (e.g. a clock or scan-mode text).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label

from truck_pos.ui import theme
from truck_pos.ui.icons import Icon

log = logging.getLogger(__name__)


@dataclass
class StatusSlot:
    """One fixed place on the bar: ``text()`` answers from memory; ``warn()`` turns it red."""

    name: str
    text: Callable[[], str]
    share: float = 1.0
    warn: Callable[[], bool] | None = None
    icon: str = ""  # a name in truck_pos.ui.icons.GLYPHS; drawn left of the text, in the text's colour


class StatusBar(BoxLayout):
    """A row of ellipsizing labels, one per slot, refreshed by ``refresh()``."""

    def __init__(self, slots: list[StatusSlot], **kwargs):
        super().__init__(orientation="horizontal", size_hint_y=None, height=theme.STATUS_H, padding=(6, 0), spacing=8,
                         **kwargs)
        self.slots: list[StatusSlot] = []
        self.labels: dict[str, Label] = {}
        self.icons: dict[str, Icon] = {}
        for slot in slots:
            self.add_slot(slot)

    def add_slot(self, slot: StatusSlot) -> None:
        """Append a slot (its icon and label are created here, sized by its share)."""
        box = BoxLayout(orientation="horizontal", size_hint_x=slot.share, spacing=3)
        icon = Icon(name=slot.icon, color=theme.TEXT, size_hint_x=None, width=theme.ICON if slot.icon else 0)
        label = Label(text="", font_size=theme.FONT_SMALL, halign="left", valign="middle",
                      shorten=True, shorten_from="right", max_lines=1, color=theme.TEXT)
        label.bind(size=lambda w, s: setattr(w, "text_size", s))  # a fixed box: text is cut with "…", never spills
        box.add_widget(icon)
        box.add_widget(label)
        self.slots.append(slot)
        self.labels[slot.name] = label
        self.icons[slot.name] = icon
        self.add_widget(box)

    @property
    def text(self) -> str:
        """Every slot's full text, left to right (what the labels show before they are ellipsized)."""
        return " · ".join(self.labels[slot.name].text for slot in self.slots)

    def refresh(self) -> None:
        """Ask every slot for its text; one failing provider never blanks the others."""
        for slot in self.slots:
            label = self.labels[slot.name]
            try:
                label.text = slot.text()
                label.color = theme.WARN if slot.warn is not None and slot.warn() else theme.TEXT
                self.icons[slot.name].color = label.color
            except Exception:  # a device hiccup must not stop the bar (or the register)
                log.exception("status slot %s failed", slot.name)
                label.text = f"{slot.name}: ?"
