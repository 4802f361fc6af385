"""Menu use cases: read the grid, load a menu document, toggle sold-out."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

import peewee

from sync import protocol
from truck_pos.domain.money import decimal_to_cents
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


MAX_LINE_OPTIONS = protocol.ORDER_LINE["modifiers"].max or 20  # the sync contract's bound per order line


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
        entry = self.entry(sku) if isinstance(sku, str) else None
        if entry is None:
            raise InvalidInput(f"Unknown item {str(sku)[:64]!r}")
        if entry.sold_out:
            raise InvalidInput(f"{entry.name} is sold out")
        prices = dict(entry.modifiers)
        chosen = []
        if not isinstance(modifiers, (tuple, list)) or not all(isinstance(m, str) for m in modifiers):
            raise InvalidInput("Options must be a list of option names")
        if len(modifiers) > MAX_LINE_OPTIONS:
            raise InvalidInput(f"At most {MAX_LINE_OPTIONS} options on one item")
        for name in modifiers:
            if name not in prices:
                raise InvalidInput(f"{entry.name} has no option {name[:64]!r}")
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

        The document is checked whole before anything is written, against the sync contract's menu
        limits (sync/protocol.py) and the register's own rules (unique skus, no negative line price);
        an item may give ``price`` in currency units ("3.99") instead of ``price_cents``. Items missing
        from the document are deactivated, not deleted (old orders keep their names). Returns the
        number of active items; InvalidInput names the first bad field.
        """
        categories = checked_menu(document)
        self._invalidate()
        with self.db.atomic():
            MenuItem.update(active=False).execute()
            seen = 0
            for cpos, cat in enumerate(categories):
                category, _ = MenuCategory.get_or_create(name=cat["name"])
                category.position = cpos
                category.save()
                for ipos, raw in enumerate(cat["items"]):
                    self._upsert_item(category, ipos, raw)
                    seen += 1
            return seen

    def _upsert_item(self, category: MenuCategory, position: int, raw: dict[str, Any]) -> None:
        fields = {"category": category, "name": raw["name"], "price_cents": raw["price_cents"],
                  "tax_rate_bp": raw.get("tax_rate_bp", 0), "position": position, "active": True,
                  "sold_out": raw.get("sold_out", False)}
        item = MenuItem.get_or_none(MenuItem.sku == raw["sku"])
        if item is None:
            item = MenuItem.create(sku=raw["sku"], **fields)
        else:
            MenuItem.update(**fields).where(MenuItem.id == item.id).execute()
        Modifier.delete().where(Modifier.item == item).execute()
        for mod in raw.get("modifiers", []):
            Modifier.create(item=item, name=mod["name"], price_cents=mod["price_cents"])


def _cents(raw: dict[str, Any], where: str) -> dict[str, Any]:
    """``price`` ("3.99", exact decimal) becomes ``price_cents``; a fractional ``price_cents`` is refused, not cut."""
    raw = dict(raw)
    if "price" in raw and "price_cents" not in raw:
        try:
            raw["price_cents"] = decimal_to_cents(raw.pop("price"))
        except ValueError as exc:
            raise InvalidInput(f"Menu document: {where} price: {exc}") from None
    cents = raw.get("price_cents")
    if isinstance(cents, float):
        raise InvalidInput(f"Menu document: {where} price_cents must be whole cents, got {cents!r}")
    return raw


def checked_menu(document: Any) -> list[dict[str, Any]]:
    """The menu's categories, normalised and within the contract's limits; InvalidInput naming the place otherwise."""
    if not isinstance(document, dict) or not isinstance(document.get("categories"), list):
        raise InvalidInput("Menu document: expected an object with a 'categories' list")
    categories = []
    for c, cat in enumerate(document["categories"]):
        if not isinstance(cat, dict) or not isinstance(cat.get("items"), list):
            raise InvalidInput(f"Menu document: category {c} needs a name and an 'items' list")
        items = []
        for i, raw in enumerate(cat["items"]):
            if not isinstance(raw, dict):
                raise InvalidInput(f"Menu document: category {c} item {i} is not an object")
            where = f"item {str(raw.get('sku'))[:64]!r}"
            item = _cents(raw, where)
            if isinstance(item.get("modifiers"), list):
                item["modifiers"] = [_cents({"price_cents": 0, **m}, f"{where} modifier {k}") if isinstance(m, dict) else m
                                     for k, m in enumerate(item["modifiers"])]
            items.append(item)
        categories.append({**cat, "items": items})
    problem = protocol.body_problem("menu", {"categories": categories})
    if problem:
        raise InvalidInput(f"Menu document: {problem}")
    _register_rules(categories)
    return categories


def _register_rules(categories: list[dict[str, Any]]) -> None:
    """What the contract allows but the register cannot use: duplicates, unprintable ids, a negative line price."""
    skus: dict[str, str] = {}
    names: set[str] = set()
    for cat in categories:
        if not cat["name"].strip() or not cat["name"].isprintable():
            raise InvalidInput(f"Menu document: category name {cat['name'][:40]!r} is blank or has control characters")
        if cat["name"] in names:
            raise InvalidInput(f"Menu document: category {cat['name'][:40]!r} appears twice")
        names.add(cat["name"])
        for item in cat["items"]:
            sku, name = item["sku"], item["name"]
            if not sku.isprintable() or sku != sku.strip() or not name.strip() or not name.isprintable():
                raise InvalidInput(f"Menu document: item {sku[:64]!r} has a blank name or control characters")
            if sku in skus:
                raise InvalidInput(f"Menu document: sku {sku[:64]!r} appears twice (in {skus[sku][:40]!r} "
                                   f"and {cat['name'][:40]!r})")
            skus[sku] = cat["name"]
            mods = item.get("modifiers", [])
            mod_names = [m["name"] for m in mods]
            if len(set(mod_names)) != len(mod_names) or not all(n.strip() and n.isprintable() for n in mod_names):
                raise InvalidInput(f"Menu document: item {sku[:64]!r} has a blank or repeated option name")
            cheapest = item["price_cents"] + sum(m["price_cents"] for m in mods if m["price_cents"] < 0)
            if cheapest < 0:
                raise InvalidInput(f"Menu document: item {sku[:64]!r} would cost less than nothing with its negative options")
            if item["price_cents"] + sum(m["price_cents"] for m in mods if m["price_cents"] > 0) > protocol.MENU_ITEM["price_cents"].max:
                raise InvalidInput(f"Menu document: item {sku[:64]!r} costs more than the contract allows with all options")
