"""The status bar: fixed slots that never push each other out of view.

Each slot is a (name, text provider) with a fixed share of the width; text that does not fit is
ellipsized inside its own slot, so a long campaign name can never hide the truck, the time or who
is logged in. Features add a slot with ``StatusBar.add_slot`` (e.g. a clock or scan-mode text).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label

from truck_pos.ui import theme

log = logging.getLogger(__name__)


@dataclass
class StatusSlot:
    """One fixed place on the bar: ``text()`` answers from memory; ``warn()`` turns it red."""

    name: str
    text: Callable[[], str]
    share: float = 1.0
    warn: Callable[[], bool] | None = None


class StatusBar(BoxLayout):
    """A row of ellipsizing labels, one per slot, refreshed by ``refresh()``."""

    def __init__(self, slots: list[StatusSlot], **kwargs):
        super().__init__(orientation="horizontal", size_hint_y=None, height=theme.STATUS_H, padding=(6, 0), spacing=8,
                         **kwargs)
        self.slots: list[StatusSlot] = []
        self.labels: dict[str, Label] = {}
        for slot in slots:
            self.add_slot(slot)

    def add_slot(self, slot: StatusSlot) -> None:
        """Append a slot (its label is created here, sized by its share)."""
        label = Label(text="", font_size=theme.FONT_SMALL, size_hint_x=slot.share, halign="left", valign="middle",
                      shorten=True, shorten_from="right", max_lines=1, color=theme.TEXT)
        label.bind(size=lambda w, s: setattr(w, "text_size", s))  # a fixed box: text is cut with "…", never spills
        self.slots.append(slot)
        self.labels[slot.name] = label
        self.add_widget(label)

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
            except Exception:  # a device hiccup must not stop the bar (or the register)
                log.exception("status slot %s failed", slot.name)
                label.text = f"{slot.name}: ?"
