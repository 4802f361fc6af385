"""The customer-facing "turn around" screen: the ticket and its total, the offer, a sign-up QR and form.

No staff controls: the app hides the status bar and the nav row while this screen is up, and the
only way back is "Staff", which locks the register (a PIN is needed to get back in). The QR is an
https URL to the hub's customer page for this truck (``[customers] hub_url``), which any phone opens.
"""

from __future__ import annotations

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.checkbox import CheckBox
from kivy.uix.image import Image
from kivy.uix.label import Label
from kivy.uix.screenmanager import Screen
from kivy.uix.scrollview import ScrollView

from truck_pos.domain.money import format_cents
from truck_pos.errors import TruckPosError
from truck_pos.ui import theme
from truck_pos.ui.widgets import KeyField, MessageLine, Panel, TouchButton, wrap

CONSENT_WORDING = "v1"
CONSENT_TEXT = "Yes, send me offers from this truck by email or text. I can stop them any time."


class CustomerScreen(Screen):
    """For the customer to read and use; staff get back only through the PIN."""

    def __init__(self, app, **kwargs):
        super().__init__(name="customer", **kwargs)
        self.app = app
        root = BoxLayout(orientation="horizontal", padding=6, spacing=8)
        left = Panel(orientation="vertical", size_hint_x=0.42, padding=6, spacing=4)
        self.offer = wrap(Label(text="", font_size=theme.FONT, halign="center", valign="middle", size_hint_y=0.3,
                                color=theme.ACCENT))
        left.add_widget(self.offer)
        self.qr = Image(fit_mode="contain")
        left.add_widget(self.qr)
        self.qr_caption = Label(text="Scan to sign up or join your group", font_size=theme.FONT_SMALL, size_hint_y=None,
                                height=theme.FONT_SMALL * 1.6)
        left.add_widget(self.qr_caption)
        root.add_widget(left)

        right = BoxLayout(orientation="vertical", spacing=4)
        top = BoxLayout(size_hint_y=None, height=theme.MIN_TOUCH, spacing=4)
        self.total = Label(text="", font_size=theme.FONT_BIG, halign="left", valign="middle", markup=True)
        wrap(self.total)
        top.add_widget(self.total)
        staff = TouchButton("Staff", color=theme.MUTED, size_hint_x=None, width=theme.MIN_TOUCH * 1.6)
        staff.bind(on_release=lambda *_: self.on_staff())
        top.add_widget(staff)
        right.add_widget(top)
        self.lines = wrap(Label(text="", font_size=theme.FONT_SMALL, halign="left", valign="top", size_hint_y=0.3))
        right.add_widget(self.lines)
        self.scroll = ScrollView(do_scroll_x=False)
        form = BoxLayout(orientation="vertical", spacing=4, size_hint_y=None)
        form.bind(minimum_height=form.setter("height"))
        self.email = KeyField("email", hint_text="Email")
        self.phone = KeyField("phone", hint_text="Phone")
        self.group = KeyField("text", hint_text="Group (optional), e.g. Acme Corporation, Accounting")
        for w in (self.email, self.phone, self.group):
            form.add_widget(w)
        consent_row = BoxLayout(size_hint_y=None, height=theme.MIN_TOUCH, spacing=4)
        self.consent = CheckBox(size_hint_x=None, width=theme.MIN_TOUCH)
        consent_row.add_widget(self.consent)
        consent_row.add_widget(wrap(Label(text=CONSENT_TEXT, font_size=theme.FONT_SMALL, halign="left", valign="middle")))
        form.add_widget(consent_row)
        go = TouchButton("Sign me up", color=theme.OK, size_hint_y=None, height=theme.MIN_TOUCH)
        go.bind(on_release=lambda *_: self.on_register())
        form.add_widget(go)
        self.scroll.add_widget(form)
        right.add_widget(self.scroll)
        self.result = wrap(Label(text="", font_size=theme.FONT_SMALL, color=theme.ACCENT, halign="center", valign="middle",
                                 size_hint_y=None, height=theme.FONT_SMALL * 2.6))
        right.add_widget(self.result)
        self.message = MessageLine(size_hint_y=None, height=theme.FONT_SMALL * 1.4, font_size=theme.FONT_SMALL)
        right.add_widget(self.message)
        root.add_widget(right)
        self.add_widget(root)

    def on_pre_enter(self, *args) -> None:
        services = self.app.services
        text, url = services.campaigns.customer_offer()
        self.offer.text = text
        self.qr_url = url if url.startswith("https://") else services.customers.signup_url()
        from truck_pos.ui.qr import qr_texture  # qrcode + PIL only when the customer screen is first shown

        self.qr.texture = qr_texture(self.qr_url)
        self.result.text = ""
        self.show_ticket()

    def show_ticket(self) -> None:
        """The ticket being rung up, as the customer should see it."""
        ticket = self.app.register_screen.ticket
        totals = ticket.totals
        self.lines.text = "\n".join(f"{ln.quantity} x {ln.name}   {format_cents(lt.gross_cents)}"
                                    for ln, lt in zip(ticket.lines, totals.lines))
        self.lines.text += "".join(f"\n{d.label}  -{format_cents(a)}" for d, a in zip(ticket.discounts, totals.discounts_applied))
        self.total.text = f"[b]Total {format_cents(totals.total_cents)}[/b]" if ticket.lines else "Welcome!"

    def on_staff(self) -> None:
        """Back to staff: only through a PIN (the register locks)."""
        if self.app.require_login:
            self.app.lock()
        else:
            self.app.go("register")

    def on_register(self) -> None:
        registration = self.app.services.registration
        try:
            ref, code = registration.register(email=self.email.text or None, phone=self.phone.text or None,
                                              consent=self.consent.active, wording_version=CONSENT_WORDING)
            joined = self.group.text.strip() and registration.join_group(ref, self.group.text.strip())
        except TruckPosError as exc:
            self.message.show(str(exc), error=True)
            return
        self.app.keyboard.hide()
        self.result.text = (f"Welcome! Today's code: {code}" if code else "Welcome! You're registered.") + (
            f"\nJoined {self.group.text.strip()}" if joined else "")
        for w in (self.email, self.phone, self.group):
            w.text = ""
        self.consent.active = False
