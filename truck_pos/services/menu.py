"""Menu use cases: read the grid, load a menu document, toggle sold-out."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

import peewee

from truck_pos.domain.order import ModifierChoice, TicketLine
from truck_pos.errors import InvalidInput, NotFound
from truck_pos.store.models import MenuCategory, MenuItem, Modifier
from truck_pos.store.watch import ChangeWatch


@dataclass(frozen=True)
class MenuEntry:
    """What a register button needs to know about an item."""

    sku: str
    name: str
    price_cents: int
    tax_rate_bp: int
    sold_out: bool
    modifiers: tuple[tuple[str, int], ...]


def demo_menu() -> dict[str, Any]:
    """The demo menu shipped with the package."""
    return json.loads(resources.files("truck_pos.data").joinpath("demo_menu.json").read_text("utf-8"))


class MenuService:
    """Reads and changes the menu.

    Ring-up looks items up in an in-memory index, rebuilt after this service changes the menu or
    when SQLite's ``data_version`` shows another process (the admin CLI, the sync agent) committed.
    """

    # How stale the index may be about another process's change (a sold-out flag set by the admin CLI):
    # checking PRAGMA data_version on every tap would cost a query per item on the ring-up hot path.
    RECHECK_S = 1.0

    def __init__(self, db: peewee.Database):
        self.db = db
        self._index: dict[str, MenuEntry] = {}
        self._watch = ChangeWatch(db, recheck_s=self.RECHECK_S)

    def _invalidate(self) -> None:
        self._watch.forget()

    def entry(self, sku: str) -> MenuEntry | None:
        """The active item with this sku, from the in-memory index."""
        if self._watch.changed():
            self._index = {e.sku: e for e in self.items()}
        return self._index.get(sku)

    def line_for(self, sku: str, quantity: int, modifiers: tuple[str, ...] = ()) -> TicketLine:
        """A ticket line for this item and named modifiers, or InvalidInput saying why not."""
        entry = self.entry(sku)
        if entry is None:
            raise InvalidInput(f"Unknown item {sku!r}")
        if entry.sold_out:
            raise InvalidInput(f"{entry.name} is sold out")
        prices = dict(entry.modifiers)
        chosen = []
        for name in modifiers:
            if name not in prices:
                raise InvalidInput(f"{entry.name} has no option {name!r}")
            chosen.append(ModifierChoice(name, prices[name]))
        return TicketLine(entry.sku, entry.name, entry.price_cents, quantity, entry.tax_rate_bp, tuple(chosen))

    def is_empty(self) -> bool:
        return not MenuItem.select().exists()

    def categories(self) -> list[str]:
        return [c.name for c in MenuCategory.select().order_by(MenuCategory.position, MenuCategory.name)]

    def items(self, category: str | None = None) -> list[MenuEntry]:
        """Active items, in menu order, optionally of one category."""
        query = (MenuItem.select(MenuItem, MenuCategory).join(MenuCategory)
                 .where(MenuItem.active == True)  # noqa: E712
                 .order_by(MenuCategory.position, MenuItem.position, MenuItem.name))
        if category is not None:
            query = query.where(MenuCategory.name == category)
        items = list(query)
        mods: dict[int, list[tuple[str, int]]] = {}
        for m in Modifier.select().where(Modifier.item.in_([i.id for i in items])).order_by(Modifier.id):
            mods.setdefault(m.item_id, []).append((m.name, m.price_cents))
        return [MenuEntry(i.sku, i.name, i.price_cents, i.tax_rate_bp, i.sold_out, tuple(mods.get(i.id, ()))) for i in items]

    def set_sold_out(self, sku: str, sold_out: bool) -> None:
        """Grey an item out on the register (or bring it back)."""
        self._invalidate()
        if not MenuItem.update(sold_out=sold_out).where(MenuItem.sku == sku).execute():
            raise NotFound(f"Unknown item {sku!r}")

    def load(self, document: dict[str, Any]) -> int:
        """Replace the menu with ``document`` (the demo format, also the ``menu`` sync payload).

        Items missing from the document are deactivated, not deleted (old orders keep their names).
        Returns the number of active items.
        """
        self._invalidate()
        try:
            categories = document["categories"]
            with self.db.atomic():
                MenuItem.update(active=False).execute()
                seen = 0
                for cpos, cat in enumerate(categories):
                    category, _ = MenuCategory.get_or_create(name=str(cat["name"]))
                    category.position = cpos
                    category.save()
                    for ipos, raw in enumerate(cat["items"]):
                        self._upsert_item(category, ipos, raw)
                        seen += 1
                return seen
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"Menu document is malformed: {exc}") from exc

    def _upsert_item(self, category: MenuCategory, position: int, raw: dict[str, Any]) -> None:
        price = int(raw["price_cents"])
        tax = int(raw.get("tax_rate_bp", 0))
        if price < 0 or tax < 0:
            raise ValueError(f"negative price or tax on {raw.get('sku')}")
        fields = {"category": category, "name": str(raw["name"]), "price_cents": price, "tax_rate_bp": tax,
                  "position": position, "active": True, "sold_out": bool(raw.get("sold_out", False))}
        item = MenuItem.get_or_none(MenuItem.sku == raw["sku"])
        if item is None:
            item = MenuItem.create(sku=str(raw["sku"]), **fields)
        else:
            MenuItem.update(**fields).where(MenuItem.id == item.id).execute()
        Modifier.delete().where(Modifier.item == item).execute()
        for mod in raw.get("modifiers", []):
            Modifier.create(item=item, name=str(mod["name"]), price_cents=int(mod.get("price_cents", 0)))
