"""The customer screen at the window: a big QR to register or join a group, today's offer, and a quick form.

The QR leads to the owner's registration page (from the campaign, or the truck's own id when there
is none); the form registers on the spot, offline, and shows the registrant code to use today.
"""

from __future__ import annotations

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.checkbox import CheckBox
from kivy.uix.image import Image
from kivy.uix.label import Label
from kivy.uix.screenmanager import Screen
from kivy.uix.textinput import TextInput

from truck_pos.errors import TruckPosError
from truck_pos.ui import theme
from truck_pos.ui.qr import qr_texture
from truck_pos.ui.widgets import MessageLine, Panel, TouchButton, wrap

CONSENT_WORDING = "v1"
CONSENT_TEXT = "Yes, send me offers from this truck by email or text. I can stop them any time."


class CustomerScreen(Screen):
    """Registration and groups, for the customer to read and use."""

    def __init__(self, app, **kwargs):
        super().__init__(name="customer", **kwargs)
        self.app = app
        root = BoxLayout(orientation="horizontal", padding=6, spacing=8)
        left = Panel(orientation="vertical", size_hint_x=0.45, padding=6, spacing=4)
        self.offer = Label(text="", font_size=theme.FONT, halign="center", valign="middle", size_hint_y=0.25, color=theme.ACCENT)
        wrap(self.offer)
        left.add_widget(self.offer)
        self.qr = Image(fit_mode="contain")
        left.add_widget(self.qr)
        left.add_widget(Label(text="Scan to register or join your group", font_size=theme.FONT * 0.9, size_hint_y=None,
                              height=theme.TOUCH * 0.5))
        root.add_widget(left)

        form = BoxLayout(orientation="vertical", spacing=4)
        self.email = TextInput(hint_text="Email", multiline=False, write_tab=False, size_hint_y=None, height=theme.TOUCH * 0.8)
        self.phone = TextInput(hint_text="Phone", multiline=False, write_tab=False, size_hint_y=None, height=theme.TOUCH * 0.8)
        self.group = TextInput(hint_text="Group (optional), e.g. Acme Corporation, Accounting", multiline=False, write_tab=False,
                               size_hint_y=None, height=theme.TOUCH * 0.8)
        for w in (self.email, self.phone, self.group):
            form.add_widget(w)
        consent_row = BoxLayout(size_hint_y=None, height=theme.TOUCH, spacing=4)
        self.consent = CheckBox(size_hint_x=None, width=theme.TOUCH)
        consent_row.add_widget(self.consent)
        text = Label(text=CONSENT_TEXT, font_size=theme.FONT * 0.8, halign="left", valign="middle")
        wrap(text)
        consent_row.add_widget(text)
        form.add_widget(consent_row)
        go = TouchButton("Sign me up", color=theme.OK, size_hint_y=None, height=theme.TOUCH)
        go.bind(on_release=lambda *_: self.on_register())
        form.add_widget(go)
        self.result = Label(text="", font_size=theme.FONT_BIG, color=theme.ACCENT, halign="center", valign="middle")
        wrap(self.result)
        form.add_widget(self.result)
        self.message = MessageLine(size_hint_y=None, height=theme.TOUCH * 0.6)
        form.add_widget(self.message)
        root.add_widget(form)
        self.add_widget(root)

    def on_pre_enter(self, *args) -> None:
        text, url = self.app.services.campaigns.customer_offer()
        self.offer.text = text
        self.qr.texture = qr_texture(url or f"truckpos:register?truck={self.app.services.settings.truck.id}")

    def on_register(self) -> None:
        registration = self.app.services.registration
        try:
            ref, code = registration.register(email=self.email.text or None, phone=self.phone.text or None,
                                              consent=self.consent.active, wording_version=CONSENT_WORDING)
            joined = self.group.text.strip() and registration.join_group(ref, self.group.text.strip())
        except TruckPosError as exc:
            self.message.show(str(exc), error=True)
            return
        self.result.text = (f"Welcome! Today's code: {code}" if code else "Welcome! You're registered.") + (
            f"\nJoined {self.group.text.strip()}" if joined else "")
        for w in (self.email, self.phone, self.group):
            w.text = ""
        self.consent.active = False
