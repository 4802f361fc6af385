"""Payment popups: the card terminal flow, the cash pad with quick amounts, and the change due."""

from __future__ import annotations

from collections.abc import Callable

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label
from kivy.uix.popup import Popup

from truck_pos.domain.cash import quick_cash_amounts
from truck_pos.domain.money import format_cents
from truck_pos.ui import theme
from truck_pos.ui.i18n import _
from truck_pos.ui.widgets import NumPad, TouchButton, wrap


class CardFlow(Popup):
    """"Charge $X on the card terminal" -> Approved (last 4 digits) or Declined. Nothing is recorded here."""

    def __init__(self, due_cents: int, on_approved: Callable[[str], None], on_declined: Callable[[], None], **kwargs):
        self.due_cents = due_cents
        self.on_approved = on_approved
        self.on_declined = on_declined
        self.body = BoxLayout(orientation="vertical", spacing=6)
        super().__init__(title=_("Card"), content=self.body, size_hint=(0.75, 0.9), auto_dismiss=False, **kwargs)
        self.ask_terminal()

    def ask_terminal(self) -> None:
        self.body.clear_widgets()
        self.body.add_widget(wrap(Label(text=_("Charge {amount} on the card terminal").format(amount=format_cents(self.due_cents)),
                                        font_size=theme.FONT_BIG, halign="center", valign="middle")))
        self.body.add_widget(wrap(Label(text=_("Then tell the register what the terminal said."), font_size=theme.FONT,
                                        halign="center", valign="middle", color=theme.MUTED)))
        row = BoxLayout(size_hint_y=None, height=theme.TOUCH, spacing=6)
        for text, color, action in ((_("Declined"), theme.WARN, self.on_declined), (_("Approved"), theme.OK, self.ask_last4)):
            b = TouchButton(text, color=color, font_size=theme.FONT_BIG)
            b.bind(on_release=lambda *_a, f=action: f())
            row.add_widget(b)
        self.body.add_widget(row)
        cancel = TouchButton(_("Cancel"), color=theme.MUTED, size_hint_y=None, height=theme.MIN_TOUCH)
        cancel.bind(on_release=lambda *_a: self.dismiss())
        self.body.add_widget(cancel)

    def ask_last4(self) -> None:
        """The last 4 digits on the terminal's slip are the sale's reference (optional)."""
        self.body.clear_widgets()
        self.digits = Label(text=_("Last 4 digits (optional)"), font_size=theme.FONT_BIG, size_hint_y=None,
                            height=theme.MIN_TOUCH)
        self.body.add_widget(self.digits)
        self.pad = NumPad(lambda d: setattr(self.digits, "text", f"**** {d}" if d else _("Last 4 digits (optional)")),
                          max_len=4)
        self.body.add_widget(self.pad)
        record = TouchButton(_("Record approval"), color=theme.OK, size_hint_y=None, height=theme.MIN_TOUCH)
        record.bind(on_release=lambda *_a: self.on_approved(f"card ****{self.pad.value}" if self.pad.value else "card"))
        self.body.add_widget(record)


class CashPopup(Popup):
    """Quick amounts (exact, next $1/$5/$10/$20) or the tendered amount typed on the pad."""

    def __init__(self, due_cents: int, on_cash: Callable[[int], None], on_cancel: Callable[[], None], **kwargs):
        body = BoxLayout(orientation="vertical", spacing=4)
        self.entry = Label(text=_("Due {amount}").format(amount=format_cents(due_cents)), font_size=theme.FONT_BIG,
                           size_hint_y=None, height=theme.MIN_TOUCH * 0.8)
        body.add_widget(self.entry)
        quick = BoxLayout(size_hint_y=None, height=theme.MIN_TOUCH, spacing=4)
        for amount in quick_cash_amounts(due_cents):
            b = TouchButton(_("Exact") if amount == due_cents else format_cents(amount), color=theme.ACCENT)
            b.bind(on_release=lambda btn, a=amount: on_cash(a))
            quick.add_widget(b)
        body.add_widget(quick)
        self.numpad = NumPad(lambda d: setattr(self.entry, "text", _("Tendered {amount}").format(
            amount=format_cents(int(d or 0)))))
        body.add_widget(self.numpad)
        row = BoxLayout(size_hint_y=None, height=theme.MIN_TOUCH, spacing=4)
        cancel = TouchButton(_("Cancel"), color=theme.MUTED)
        cancel.bind(on_release=lambda *_a: on_cancel())
        take = TouchButton(_("Take cash"), color=theme.OK)
        take.bind(on_release=lambda *_a: on_cash(int(self.numpad.value or 0)))
        row.add_widget(cancel)
        row.add_widget(take)
        body.add_widget(row)
        super().__init__(title=_("Cash — due {amount}").format(amount=format_cents(due_cents)), content=body,
                         size_hint=(0.8, 1), auto_dismiss=False, **kwargs)


class ChangePopup(Popup):
    """The change to hand back, big."""

    def __init__(self, number: int, change_cents: int, on_done: Callable[[], None], **kwargs):
        body = BoxLayout(orientation="vertical", spacing=8)
        body.add_widget(Label(text=_("Order #{number}").format(number=number), font_size=theme.FONT_BIG))
        body.add_widget(Label(text=_("Change {amount}").format(amount=format_cents(change_cents)),
                              font_size=theme.FONT_HUGE * 0.7, color=theme.ACCENT))
        done = TouchButton(_("Done"), color=theme.OK, size_hint_y=None, height=theme.TOUCH)
        done.bind(on_release=lambda *_a: on_done())
        body.add_widget(done)
        super().__init__(title=_("Paid"), content=body, size_hint=(0.6, 0.7), auto_dismiss=True, **kwargs)
