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
from kivy.uix.textinput import TextInput
from kivy.uix.togglebutton import ToggleButton

from truck_pos.domain.money import format_cents
from truck_pos.domain.order import Ticket
from truck_pos.errors import TruckPosError
from truck_pos.ui import theme
from truck_pos.ui.widgets import MessageLine, NumPad, Panel, TouchButton, wrap

log = logging.getLogger(__name__)


def quick_cash_amounts(due_cents: int) -> list[int]:
    """Exact, then the next round notes above what is due ($5, $10, $20, $50, $100)."""
    amounts = [due_cents]
    for note in (500, 1000, 2000, 5000, 10000):
        if note > due_cents and len(amounts) < 4:
            amounts.append(note)
    return amounts


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
        self.goal = Label(text="", size_hint_y=None, height=theme.TOUCH * 0.5, font_size=theme.FONT * 0.85,
                          color=theme.ACCENT, halign="left", valign="middle")
        wrap(self.goal)
        side.add_widget(self.goal)
        scroll = ScrollView(do_scroll_x=False)
        self.lines = GridLayout(cols=1, spacing=2, size_hint_y=None)
        self.lines.bind(minimum_height=self.lines.setter("height"))
        scroll.add_widget(self.lines)
        side.add_widget(scroll)
        self.totals = Label(size_hint_y=None, height=theme.TOUCH * 1.7, font_size=theme.FONT, halign="right", valign="middle")
        wrap(self.totals)
        side.add_widget(self.totals)
        self.message = MessageLine(size_hint_y=None, height=theme.TOUCH * 0.8)
        side.add_widget(self.message)
        buttons = BoxLayout(size_hint_y=None, height=theme.TOUCH * 1.2, spacing=4)
        self.clear_btn = TouchButton("Clear", color=theme.MUTED)
        self.clear_btn.bind(on_release=lambda *_: self.on_clear())
        self.code_btn = TouchButton("Code", color=theme.ACCENT)
        self.code_btn.bind(on_release=lambda *_: self.open_code())
        self.card_btn = TouchButton("Card", color=theme.CARD, font_size=theme.FONT_BIG)
        self.card_btn.bind(on_release=lambda *_: self.on_pay_card())
        self.cash_btn = TouchButton("Cash", color=theme.OK, font_size=theme.FONT_BIG)
        self.cash_btn.bind(on_release=lambda *_: self.open_cash())
        for b in (self.clear_btn, self.code_btn, self.card_btn, self.cash_btn):
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
            btn.bind(on_release=lambda b, e=entry: self.open_modifiers(e) if e.modifiers else self.on_item(e.sku))
            self.grid.add_widget(btn)

    def refresh_ticket(self) -> None:
        self.lines.clear_widgets()
        totals = self.ticket.totals
        for index, (line, lt) in enumerate(zip(self.ticket.lines, totals.lines)):
            row = BoxLayout(size_hint_y=None, height=theme.TOUCH, spacing=2)
            mods = "".join(f"\n  + {m.name}" for m in line.modifiers)
            name = Label(text=f"{line.quantity} x {line.name}{mods}", halign="left", valign="middle", font_size=theme.FONT)
            wrap(name)
            row.add_widget(name)
            row.add_widget(Label(text=format_cents(lt.gross_cents), size_hint_x=0.3, font_size=theme.FONT))
            minus = TouchButton("-", color=theme.BUTTON, size_hint_x=None, width=theme.TOUCH)
            minus.bind(on_release=lambda b, i=index, q=line.quantity: self.on_quantity(i, q - 1))
            plus = TouchButton("+", color=theme.BUTTON, size_hint_x=None, width=theme.TOUCH)
            plus.bind(on_release=lambda b, i=index, q=line.quantity: self.on_quantity(i, q + 1))
            row.add_widget(minus)
            row.add_widget(plus)
            self.lines.add_widget(row)
        text = f"Subtotal {format_cents(totals.subtotal_cents)}\n"
        if totals.discount_cents:
            labels = ", ".join(d.label for d in self.ticket.discounts)
            text += f"{labels} -{format_cents(totals.discount_cents)}\n"
        text += f"Tax {format_cents(totals.tax_cents)}{' (incl.)' if self.ticket.tax_mode == 'inclusive' else ''}\n"
        text += f"[b]Total {format_cents(totals.total_cents)}[/b]"
        self.totals.markup = True
        self.totals.text = text
        empty = not self.ticket.lines
        self.cash_btn.disabled = self.card_btn.disabled = self.code_btn.disabled = empty

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
        self.popup.open()

    def on_quantity(self, index: int, quantity: int) -> None:
        self._changed(self._do(self.services.register.set_quantity, self.ticket.id, index, quantity))

    def _changed(self, ticket: Ticket | None) -> None:
        """After the items changed: codes are checked again (a percent code follows the items)."""
        if ticket is None:
            return
        if ticket.discounts:
            for result in self._do(self.services.redemption.reapply_codes, ticket.id) or []:
                if getattr(result, "reason", None):
                    self.message.show(f"Code taken off: {result.reason}", error=True)
            ticket = self.services.register.ticket(ticket.id)
        self.ticket = ticket
        self.refresh_ticket()

    def on_clear(self) -> None:
        self.services.register.cancel(self.ticket.id)
        self.new_ticket()

    def new_ticket(self) -> None:
        self.ticket = self.services.register.open_ticket()
        self.refresh_ticket()

    def on_pay_card(self) -> None:
        paid = self._do(self.services.register.pay_card, self.ticket.id, self.app.staff)
        if paid is not None:
            self.message.show(f"Order #{paid.order_number} paid by card: {format_cents(paid.total_cents)}")
            self.new_ticket()
            self.refresh_goal()

    def on_pay_cash(self, tendered_cents: int) -> None:
        paid = self._do(self.services.register.pay_cash, self.ticket.id, tendered_cents, self.app.staff)
        if paid is None:
            return
        self.dismiss_popup()
        self.message.show(f"Order #{paid.order_number} paid. Change due: {format_cents(paid.change_cents)}", seconds=30)
        self.show_change(paid.order_number, paid.change_cents)
        self.new_ticket()
        self.refresh_goal()

    # --- discount codes ------------------------------------------------------------------
    def open_code(self) -> None:
        """Type a code, or scan it with a keyboard-mode scanner into the field."""
        body = BoxLayout(orientation="vertical", spacing=6)
        self.code_field = TextInput(multiline=False, font_size=theme.FONT_BIG, size_hint_y=None, height=theme.TOUCH,
                                    hint_text="e.g. FBLIKE10", write_tab=False)
        self.code_field.bind(on_text_validate=lambda f: self.on_code(f.text))
        body.add_widget(self.code_field)
        self.code_result = Label(text="", font_size=theme.FONT, halign="center", valign="middle")
        wrap(self.code_result)
        body.add_widget(self.code_result)
        row = BoxLayout(size_hint_y=None, height=theme.TOUCH, spacing=4)
        close = TouchButton("Close", color=theme.MUTED)
        close.bind(on_release=lambda *_: self.dismiss_popup())
        apply_btn = TouchButton("Apply code", color=theme.OK)
        apply_btn.bind(on_release=lambda *_: self.on_code(self.code_field.text))
        row.add_widget(close)
        row.add_widget(apply_btn)
        body.add_widget(row)
        self.popup = Popup(title="Discount code", content=body, size_hint=(0.7, 0.6), auto_dismiss=False)
        self.popup.open()
        self.code_field.focus = True

    def on_code(self, text: str) -> None:
        if not text.strip():
            return
        result = self._do(self.services.redemption.apply_code, self.ticket.id, text)
        if result is None:
            return
        if getattr(result, "reason", None) is not None:
            self.code_result.color = theme.WARN
            self.code_result.text = f"Refused: {result.reason}"
            return
        self.ticket = self.services.register.ticket(self.ticket.id)
        self.refresh_ticket()
        self.dismiss_popup()
        self.message.show(f"{result.segment.replace('_', ' ')}: {result.label} (-{format_cents(result.amount_cents)})")

    # --- cash popup ------------------------------------------------------------------------
    def open_cash(self) -> None:
        due = self.ticket.due_cents
        body = BoxLayout(orientation="vertical", spacing=4)
        self.cash_entry = Label(text=f"Due {format_cents(due)}", font_size=theme.FONT_BIG, size_hint_y=None, height=theme.TOUCH * 0.8)
        body.add_widget(self.cash_entry)
        quick = BoxLayout(size_hint_y=None, height=theme.TOUCH, spacing=4)
        for amount in quick_cash_amounts(due):
            b = TouchButton("Exact" if amount == due else format_cents(amount), color=theme.ACCENT)
            b.bind(on_release=lambda btn, a=amount: self.on_pay_cash(a))
            quick.add_widget(b)
        body.add_widget(quick)
        self.numpad = NumPad(self._typed_cash)
        body.add_widget(self.numpad)
        row = BoxLayout(size_hint_y=None, height=theme.TOUCH, spacing=4)
        cancel = TouchButton("Cancel", color=theme.MUTED)
        cancel.bind(on_release=lambda *_: self.dismiss_popup())
        take = TouchButton("Take cash", color=theme.OK)
        take.bind(on_release=lambda *_: self.on_pay_cash(int(self.numpad.value or 0)))
        row.add_widget(cancel)
        row.add_widget(take)
        body.add_widget(row)
        self.popup = Popup(title=f"Cash — due {format_cents(due)}", content=body, size_hint=(0.7, 0.98), auto_dismiss=False)
        self.popup.open()

    def _typed_cash(self, digits: str) -> None:
        self.cash_entry.text = f"Tendered {format_cents(int(digits or 0))}"

    def show_change(self, number: int, change_cents: int) -> None:
        body = BoxLayout(orientation="vertical", spacing=8)
        body.add_widget(Label(text=f"Order #{number}", font_size=theme.FONT_BIG))
        body.add_widget(Label(text=f"Change {format_cents(change_cents)}", font_size=theme.FONT_HUGE * 0.7, color=theme.ACCENT))
        done = TouchButton("Done", color=theme.OK)
        done.bind(on_release=lambda *_: self.dismiss_popup())
        body.add_widget(done)
        self.popup = Popup(title="Paid", content=body, size_hint=(0.6, 0.7), auto_dismiss=True)
        self.popup.open()

    def dismiss_popup(self) -> None:
        if self.popup is not None:
            self.popup.dismiss()
            self.popup = None
