"""The register: category tabs and item grid on the left, the ticket, totals and Pay on the right.

Layout and wiring only: every action goes to ``services.register`` / ``services.menu`` and the
screen shows the result (a ticket, ``Paid``, or the refusal's message).
"""

from __future__ import annotations

import logging

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.label import Label
from kivy.uix.popup import Popup
from kivy.uix.screenmanager import Screen
from kivy.uix.scrollview import ScrollView
from kivy.uix.togglebutton import ToggleButton

from truck_pos.domain.money import format_cents
from truck_pos.domain.order import Ticket
from truck_pos.errors import TruckPosError
from truck_pos.ui import theme
from truck_pos.ui.customer_attach import CustomerAttach
from truck_pos.ui.i18n import N_, _, bind_text
from truck_pos.ui.payment import CardFlow, CashPopup, ChangePopup
from truck_pos.ui.widgets import KeyField, MessageLine, Panel, TouchButton, wrap

log = logging.getLogger(__name__)

TOTAL_WORDS = (N_("Subtotal"), N_("Tax"), N_("Total"))  # translated inside refresh_ticket's f-strings


class RegisterScreen(Screen):
    """Ring up, take payment, show change."""

    def __init__(self, app, **kwargs):
        super().__init__(name="register", **kwargs)
        self.app = app
        self.services = app.services
        self.ticket: Ticket = self.services.register.open_ticket()
        self.category: str | None = None
        self.popup: Popup | None = None

        root = BoxLayout(orientation="horizontal", spacing=4, padding=4)
        root.add_widget(self._build_menu_side())
        root.add_widget(self._build_ticket_side())
        self.add_widget(root)
        self.refresh_menu()
        self.refresh_ticket()
        self.refresh_goal()

    # --- layout ----------------------------------------------------------------------------
    def _build_menu_side(self) -> BoxLayout:
        side = BoxLayout(orientation="vertical", size_hint_x=0.6, spacing=4)
        self.tabs = BoxLayout(size_hint_y=None, height=theme.TOUCH, spacing=4)
        side.add_widget(self.tabs)
        scroll = ScrollView(do_scroll_x=False)
        self.grid = GridLayout(cols=3, spacing=4, size_hint_y=None, row_default_height=theme.TOUCH * 1.5, row_force_default=True)
        self.grid.bind(minimum_height=self.grid.setter("height"))
        scroll.add_widget(self.grid)
        side.add_widget(scroll)
        return side

    def _build_ticket_side(self) -> BoxLayout:
        side = Panel(orientation="vertical", size_hint_x=0.4, spacing=4, padding=4)
        self.goal = Label(text="", size_hint_y=None, height=theme.FONT_SMALL * 1.5, font_size=theme.FONT_SMALL,
                          color=theme.ACCENT, halign="left", valign="middle")
        wrap(self.goal)
        side.add_widget(self.goal)
        scroll = ScrollView(do_scroll_x=False)
        self.lines = GridLayout(cols=1, spacing=2, size_hint_y=None)
        self.lines.bind(minimum_height=self.lines.setter("height"))
        scroll.add_widget(self.lines)
        side.add_widget(scroll)
        self.totals = Label(size_hint_y=None, height=theme.TOUCH * 1.7, font_size=theme.FONT, halign="right", valign="middle")
        self.totals.bind(width=lambda w, width: setattr(w, "text_size", (width, None)),
                         texture_size=lambda w, size: setattr(w, "height", size[1]))  # as tall as its lines, never cut
        side.add_widget(self.totals)
        self.message = MessageLine(size_hint_y=None, height=theme.FONT * 1.5, font_size=theme.FONT_SMALL, shorten=True,
                                   shorten_from="right", max_lines=1)
        side.add_widget(self.message)
        self.customer_line = Label(text="", size_hint_y=None, height=0, font_size=theme.FONT_SMALL, color=theme.ACCENT,
                                   halign="left", valign="middle", shorten=True, shorten_from="right")
        self.customer_line.bind(size=self.customer_line.setter("text_size"))
        side.add_widget(self.customer_line)
        extra = BoxLayout(size_hint_y=None, height=theme.MIN_TOUCH, spacing=4)
        self.customer_btn = bind_text(TouchButton(color=theme.BUTTON), "Customer")
        self.customer_btn.bind(on_release=lambda *_: self.open_customer())
        self.reward_btn = bind_text(TouchButton(color=theme.BUTTON), "Reward")
        self.reward_btn.bind(on_release=lambda *_: self.on_reward())
        self.code_btn = bind_text(TouchButton(color=theme.ACCENT), "Code")
        self.code_btn.bind(on_release=lambda *_: self.open_code())
        for b in (self.customer_btn, self.reward_btn, self.code_btn):
            extra.add_widget(b)
        side.add_widget(extra)
        buttons = BoxLayout(size_hint_y=None, height=theme.TOUCH, spacing=4)
        self.clear_btn = bind_text(TouchButton(color=theme.MUTED), "Clear")
        self.clear_btn.bind(on_release=lambda *_: self.on_clear())
        self.card_btn = bind_text(TouchButton(color=theme.CARD, font_size=theme.FONT_BIG), "Card")
        self.card_btn.bind(on_release=lambda *_: self.open_card())
        self.cash_btn = TouchButton(_("Cash"), color=theme.OK, font_size=theme.FONT_BIG)
        self.cash_btn.bind(on_release=lambda *_: self.open_cash())
        for b in (self.clear_btn, self.card_btn, self.cash_btn):
            buttons.add_widget(b)
        side.add_widget(buttons)
        return side

    # --- refresh ---------------------------------------------------------------------------
    def refresh_menu(self) -> None:
        categories = self.services.menu.categories()
        if self.category not in categories:
            self.category = categories[0] if categories else None
        self.tabs.clear_widgets()
        for name in categories:
            tab = TouchButton(name, color=theme.ACCENT if name == self.category else theme.PANEL)
            tab.bind(on_release=lambda b, n=name: self.on_category(n))
            self.tabs.add_widget(tab)
        self.grid.clear_widgets()
        for entry in self.services.menu.items(self.category):
            label = f"{entry.name}\n{'SOLD OUT' if entry.sold_out else format_cents(entry.price_cents)}"
            btn = TouchButton(label, color=theme.PANEL)
            btn.sku = entry.sku
            btn.disabled = entry.sold_out
            # on press: inside the scrolling grid a release arrives 0.2 s late, and a quick next tap must not wait
            btn.bind(on_press=lambda b, e=entry: self.open_modifiers(e) if e.modifiers else self.on_item(e.sku))
            self.grid.add_widget(btn)

    def refresh_ticket(self) -> None:
        self.lines.clear_widgets()
        totals = self.ticket.totals
        for index, (line, lt) in enumerate(zip(self.ticket.lines, totals.lines)):
            row = BoxLayout(size_hint_y=None, height=theme.MIN_TOUCH, spacing=2)
            mods = "".join(f"\n  + {m.name}" for m in line.modifiers)
            name = Label(text=f"{line.quantity} x {line.name}{mods}", halign="left", valign="middle", font_size=theme.FONT)
            wrap(name)
            row.add_widget(name)
            row.add_widget(Label(text=format_cents(lt.gross_cents), size_hint_x=0.3, font_size=theme.FONT))
            minus = TouchButton("-", color=theme.BUTTON, size_hint_x=None, width=theme.MIN_TOUCH)
            minus.bind(on_release=lambda b, i=index, q=line.quantity: self.on_quantity(i, q - 1))
            plus = TouchButton("+", color=theme.BUTTON, size_hint_x=None, width=theme.MIN_TOUCH)
            plus.bind(on_release=lambda b, i=index, q=line.quantity: self.on_quantity(i, q + 1))
            row.add_widget(minus)
            row.add_widget(plus)
            self.lines.add_widget(row)
        text = f"{_('Subtotal')} {format_cents(totals.subtotal_cents)}\n"
        for d, amount in zip(self.ticket.discounts, totals.discounts_applied):
            text += f"{d.label} -{format_cents(amount)}\n"
        text += f"{_('Tax')} {format_cents(totals.tax_cents)}{' (incl.)' if self.ticket.tax_mode == 'inclusive' else ''}\n"
        text += f"[b]{_('Total')} {format_cents(totals.total_cents)}[/b]"
        self.totals.markup = True
        self.totals.text = text
        empty = not self.ticket.lines
        free = not empty and self.ticket.due_cents == 0
        self.cash_btn.text = _("Complete") if free else _("Cash")  # a $0 ticket needs no cash pad
        self.cash_btn.disabled = self.code_btn.disabled = empty
        self.card_btn.disabled = empty or free
        self.customer_line.text = self.customer.line(self.ticket) if self.ticket.customer_ref else ""
        self.customer_line.height = theme.FONT_SMALL * 1.6 if self.customer_line.text else 0
        self.reward_btn.disabled = empty or not self.customer.reward_available(self.ticket)

    def refresh_goal(self) -> None:
        """The campaign goal line ("First hour: 23 / 40 customers, $410 / $600"); blank without a campaign."""
        progress = self.services.reports.goal_progress()
        self.goal.text = progress.line() if progress is not None else ""

    # --- actions (wiring only) -------------------------------------------------------------
    def _do(self, action, *args):
        """Run a service call; show its refusal instead of crashing."""
        try:
            return action(*args)
        except TruckPosError as exc:
            self.message.show(str(exc), error=True)
        except Exception:  # never let one bad tap take the register down
            log.exception("register action failed")
            self.message.show("Something went wrong; the ticket is unchanged. See the log.", error=True)
        return None

    def on_category(self, name: str) -> None:
        self.category = name
        self.refresh_menu()

    def on_item(self, sku: str, modifiers: tuple[str, ...] = ()) -> None:
        self._changed(self._do(self.services.register.add_item, self.ticket.id, sku, 1, modifiers))

    def open_modifiers(self, entry) -> None:
        """An item with options: toggle the ones the customer wants, then add."""
        body = BoxLayout(orientation="vertical", spacing=4)
        toggles = []
        for name, price in entry.modifiers:
            t = ToggleButton(text=f"{name}  {'+' + format_cents(price) if price else ''}", size_hint_y=None,
                             height=theme.TOUCH, font_size=theme.FONT, background_normal="", background_down="",
                             background_color=theme.BUTTON)
            t.modifier = name
            t.bind(state=lambda w, v: setattr(w, "background_color", theme.ACCENT if v == "down" else theme.BUTTON))
            toggles.append(t)
            body.add_widget(t)
        row = BoxLayout(size_hint_y=None, height=theme.TOUCH, spacing=4)
        cancel = TouchButton("Cancel", color=theme.MUTED)
        cancel.bind(on_release=lambda *_: self.dismiss_popup())
        add = TouchButton(f"Add {entry.name}", color=theme.OK)
        add.bind(on_release=lambda *_: (self.dismiss_popup(),
                                        self.on_item(entry.sku, tuple(t.modifier for t in toggles if t.state == "down"))))
        row.add_widget(cancel)
        row.add_widget(add)
        body.add_widget(row)
        self.popup = Popup(title=entry.name, content=body, size_hint=(0.6, min(0.95, 0.3 + 0.15 * len(toggles))),
                           auto_dismiss=False)
        self.app.open_popup(self.popup)

    def on_quantity(self, index: int, quantity: int) -> None:
        self._changed(self._do(self.services.register.set_quantity, self.ticket.id, index, quantity))

    def _changed(self, ticket: Ticket | None) -> None:
        """After the items changed: codes are checked again (a percent code follows the items)."""
        if ticket is None:
            return
        if ticket.discounts or ticket.customer_ref:
            repriced = self._do(self.customer.reprice, ticket.id)
            ticket, refused = repriced if repriced is not None else (self.services.register.ticket(ticket.id), [])
            for result in refused:
                self.message.show(_("Code taken off: {reason}").format(reason=result.reason), error=True)
        self.ticket = ticket
        self.refresh_ticket()

    def on_clear(self) -> None:
        self.services.register.cancel(self.ticket.id)
        self.new_ticket()

    def new_ticket(self) -> None:
        self.ticket = self.services.register.open_ticket()
        self.refresh_ticket()

    def open_card(self) -> None:
        """Charge on the external terminal first; the sale is recorded only when staff confirm it was approved."""
        self.popup = CardFlow(self.ticket.due_cents, on_approved=self.on_card_approved, on_declined=self.on_card_declined)
        self.app.open_popup(self.popup)

    def on_card_approved(self, reference: str) -> None:
        paid = self._do(self.services.register.pay_card, self.ticket.id, self.app.staff, reference)
        if paid is not None:
            self.dismiss_popup()
            self.message.show(_("Order #{number} paid by card: {total}").format(number=paid.order_number,
                                                                               total=format_cents(paid.total_cents)))
            self._sold()

    def on_card_declined(self) -> None:
        self.dismiss_popup()
        self.message.show(_("Card declined. Nothing was recorded; the ticket is still open."), error=True)

    def on_pay_cash(self, tendered_cents: int) -> None:
        paid = self._do(self.services.register.pay_cash, self.ticket.id, tendered_cents, self.app.staff)
        if paid is None:
            return
        self.dismiss_popup()
        self.message.show(_("Order #{number} paid. Change due: {change}").format(
            number=paid.order_number, change=format_cents(paid.change_cents)), seconds=30)
        if paid.total_cents:
            self.popup = ChangePopup(paid.order_number, paid.change_cents, on_done=self.dismiss_popup)
            self.app.open_popup(self.popup)
        self._sold()

    def _sold(self) -> None:
        self.new_ticket()
        self.refresh_goal()

    # --- discount codes ------------------------------------------------------------------
    def open_code(self) -> None:
        """Type a code on the on-screen keyboard, or scan it with a keyboard-mode scanner into the field."""
        body = BoxLayout(orientation="vertical", spacing=4)
        self.code_field = KeyField("code", font_size=theme.FONT_BIG, hint_text="e.g. FBLIKE10")
        self.code_field.bind(on_text_validate=lambda f: self.on_code(f.text))
        body.add_widget(self.code_field)
        self.code_result = wrap(Label(text="", font_size=theme.FONT, halign="center", valign="middle"))
        body.add_widget(self.code_result)
        row = BoxLayout(size_hint_y=None, height=theme.MIN_TOUCH, spacing=4)
        close = bind_text(TouchButton(color=theme.MUTED), "Close")
        close.bind(on_release=lambda *_: self.dismiss_popup())
        apply_btn = bind_text(TouchButton(color=theme.OK), "Apply code")
        apply_btn.bind(on_release=lambda *_: self.on_code(self.code_field.text))
        row.add_widget(close)
        row.add_widget(apply_btn)
        body.add_widget(row)
        self.popup = Popup(title=_("Discount code"), content=body, size_hint=(0.7, 0.6), auto_dismiss=False)
        self.app.open_popup(self.popup)
        self.code_field.focus = True

    def on_code(self, text: str) -> None:
        if self.popup is None or not text.strip():
            return
        result = self._do(self.services.redemption.apply_code, self.ticket.id, text)
        if result is None:
            return
        if getattr(result, "reason", None) is not None:
            self.code_result.color = theme.WARN
            self.code_result.text = _("Refused: {reason}").format(reason=result.reason)
            self.code_field.text = ""
            return
        self.ticket = self.services.register.ticket(self.ticket.id)
        self.refresh_ticket()
        self.dismiss_popup()
        self.message.show(f"{result.segment.replace('_', ' ')}: {result.label} (-{format_cents(result.amount_cents)})")

    # --- payment popups --------------------------------------------------------------------
    def open_cash(self) -> None:
        if self.ticket.due_cents == 0:
            self.on_pay_cash(0)
            return
        self.popup = CashPopup(self.ticket.due_cents, on_cash=self.on_pay_cash, on_cancel=self.dismiss_popup)
        self.app.open_popup(self.popup)

    # --- the customer on the ticket --------------------------------------------------------
    @property
    def customer(self):
        return self.services.customers

    def open_customer(self) -> None:
        """Scan the customer's QR or look them up by phone/email; their group discount applies at once."""
        self.popup = CustomerAttach(self)
        self.app.open_popup(self.popup)
        self.popup.field.focus = True

    def attached(self, ticket: Ticket, note: str) -> None:
        self.ticket = ticket
        self.refresh_ticket()
        self.message.show(note)

    def on_reward(self) -> None:
        ticket = self._do(self.customer.redeem_reward, self.ticket.id)
        if ticket is not None:
            self.ticket = ticket
            self.refresh_ticket()

    def dismiss_popup(self) -> None:
        if self.popup is not None:
            self.popup.dismiss()
            self.popup = None
