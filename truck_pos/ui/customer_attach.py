"""Attach a customer to the ticket: scan their QR (customer page or an earlier receipt) or look them up.

A keyboard-mode scanner types the QR's text into the focused field and presses Enter; staff can
type a phone number or an email on the on-screen keyboard instead. The customers service decides.
"""

from __future__ import annotations

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label
from kivy.uix.popup import Popup

from truck_pos.errors import TruckPosError
from truck_pos.ui import theme
from truck_pos.ui.i18n import _
from truck_pos.ui.widgets import KeyField, TouchButton, wrap


class CustomerAttach(Popup):
    """Scan or look up; shows who was found, their group and consent, and lets consent be withdrawn."""

    def __init__(self, screen, **kwargs):
        self.screen = screen
        body = BoxLayout(orientation="vertical", spacing=4)
        modes = BoxLayout(size_hint_y=None, height=theme.MIN_TOUCH, spacing=4)
        for text, kind in ((_("Phone"), "phone"), (_("Email"), "email"), (_("Scan"), "code")):
            b = TouchButton(text, color=theme.BUTTON)
            b.bind(on_release=lambda btn, k=kind: self.use(k))
            modes.add_widget(b)
        body.add_widget(modes)
        self.field = KeyField("phone", hint_text=_("Scan the customer's QR, or type a phone or email"))
        self.field.hide_on_enter = False
        self.field.bind(on_text_validate=lambda f: self.on_lookup(f.text))
        body.add_widget(self.field)
        self.result = wrap(Label(text="", font_size=theme.FONT, halign="center", valign="middle"))
        body.add_widget(self.result)
        row = BoxLayout(size_hint_y=None, height=theme.MIN_TOUCH, spacing=4)
        close = TouchButton(_("Close"), color=theme.MUTED)
        close.bind(on_release=lambda *_a: self.dismiss())
        self.consent_btn = TouchButton(_("Stop offers"), color=theme.WARN, disabled=True)
        self.consent_btn.bind(on_release=lambda *_a: self.on_withdraw())
        find = TouchButton(_("Find"), color=theme.OK)
        find.bind(on_release=lambda *_a: self.on_lookup(self.field.text))
        for b in (close, self.consent_btn, find):
            row.add_widget(b)
        body.add_widget(row)
        super().__init__(title=_("Customer"), content=body, size_hint=(0.85, 0.8), auto_dismiss=False, **kwargs)

    def use(self, kind: str) -> None:
        """Switch the keyboard layout (phone digits, email QWERTY, or the code layout for a scan)."""
        self.field.kind = kind
        self.field.focus = True
        keyboard = self.screen.app.keyboard
        keyboard.attach(self.field)

    def on_lookup(self, text: str) -> None:
        if not text.strip():
            return
        customers = self.screen.services.customers
        try:
            ticket, card = customers.attach(self.screen.ticket.id, text)
        except TruckPosError as exc:
            self.result.color = theme.WARN
            self.result.text = str(exc)
            self.field.text = ""
            return
        self.card = card
        self.field.text = ""
        self.result.color = theme.OK
        self.result.text = customers.attached_note(card)
        self.consent_btn.disabled = not card.consent
        self.screen.attached(ticket, customers.attached_note(card))

    def on_withdraw(self) -> None:
        """The customer asks for no more offers: recorded now and synced up (consent kind)."""
        customers = self.screen.services.customers
        try:
            self.card = customers.withdraw_consent(self.card.ref)
        except TruckPosError as exc:
            self.result.text = str(exc)
            return
        self.consent_btn.disabled = True
        self.result.text = customers.attached_note(self.card)
        self.screen.refresh_ticket()
