"""The hub's own tables, bound through ``playhouse.db_url`` (SQLite for one owner, PostgreSQL for a fleet).

These are not truck tables: they bind to ``hub_database``, never to the truck's store.
"""

from __future__ import annotations

import peewee
from playhouse.db_url import connect
from playhouse.migrate import SchemaMigrator, migrate

from sync.protocol import HASH_LEN, MAX_ID_LEN, MAX_KIND_LEN, MAX_TRUCK_LEN
from truck_pos.store.base import JsonField, UtcDateTimeField

hub_database = peewee.DatabaseProxy()

SQLITE_PRAGMAS = {"journal_mode": "wal", "synchronous": 1, "busy_timeout": 10000}


class HubModel(peewee.Model):
    """Base of the hub tables."""

    class Meta:
        database = hub_database
        legacy_table_names = False


class HubMessage(HubModel):
    """One envelope from a truck, ingested once per idempotency key (``status`` ok | rejected).

    Column sizes come from sync/protocol.py, which refuses anything longer before it gets here.
    """

    key = peewee.CharField(max_length=MAX_ID_LEN, unique=True)
    truck = peewee.CharField(max_length=MAX_TRUCK_LEN)
    seq = peewee.BigIntegerField()
    kind = peewee.CharField(max_length=MAX_KIND_LEN, index=True)
    ts_utc = UtcDateTimeField(null=True, index=True)
    received_utc = UtcDateTimeField()
    status = peewee.CharField(max_length=10, default="ok")
    reason = peewee.TextField(default="")
    body = JsonField(null=True)
    body_hash = peewee.CharField(max_length=HASH_LEN, default="")  # tells a re-delivery from a reused id

    class Meta:
        indexes = ((("truck", "seq"), False),)


class HubTruck(HubModel):
    """Per truck: the highest contiguous seq ingested (what ``ack`` says), and its last status."""

    truck = peewee.CharField(max_length=MAX_TRUCK_LEN, unique=True)
    contiguous_seq = peewee.BigIntegerField(default=0)
    status = peewee.CharField(max_length=10, default="")
    last_seen_utc = UtcDateTimeField(null=True)


class HubMobileOrder(HubModel):
    """A prepaid mobile order sent down; ``delivered_utc`` is set when the truck's order comes back up."""

    order_id = peewee.CharField(max_length=MAX_ID_LEN, unique=True)
    truck = peewee.CharField(max_length=MAX_TRUCK_LEN, index=True)
    body = JsonField()
    created_utc = UtcDateTimeField()
    sent_count = peewee.IntegerField(default=0)
    last_sent_utc = UtcDateTimeField(null=True)
    delivered_utc = UtcDateTimeField(null=True)


class HubDeadLetter(HubModel):
    """A message not stored as sent, kept with the reason: refused, conflicting, or the hub failed on it.

    ``truck``/``seq`` are set when the envelope could be placed: the ack then moves past that seq
    and the truck is told (``down/rejected``). ``conflict`` letters keep both body hashes.
    """

    received_utc = UtcDateTimeField(index=True)
    topic = peewee.TextField()
    reason = peewee.TextField()
    payload = peewee.TextField()
    truck = peewee.CharField(max_length=MAX_TRUCK_LEN, null=True)
    seq = peewee.BigIntegerField(null=True)
    key = peewee.CharField(max_length=MAX_ID_LEN, default="")
    outcome = peewee.CharField(max_length=20, default="dead_letter")  # dead_letter | conflict
    body_hash = peewee.CharField(max_length=HASH_LEN, default="")
    stored_hash = peewee.CharField(max_length=HASH_LEN, default="")  # conflict: the body already stored under the id

    class Meta:
        indexes = ((("truck", "seq"), False),)


class HubCodeUse(HubModel):
    """A limited code's use (personal, or a segment with uses_per_customer), kept to find double spends."""

    redemption_key = peewee.CharField(max_length=64, unique=True)
    truck = peewee.CharField(max_length=64)
    order_id = peewee.CharField(max_length=64)
    campaign_id = peewee.CharField(max_length=64)
    segment = peewee.CharField(max_length=64)
    holder = peewee.TextField()  # the customer_ref, else the code itself
    code = peewee.TextField()
    allowed = peewee.IntegerField()
    redeemed_at = peewee.CharField(max_length=40)

    class Meta:
        indexes = ((("campaign_id", "segment", "holder"), False),)


class HubDoubleSpend(HubModel):
    """A use beyond what the code allows (e.g. at two trucks both offline): the earlier use and this one."""

    redemption_key = peewee.CharField(max_length=64, unique=True)  # the use that went over the limit
    campaign_id = peewee.CharField(max_length=64)
    segment = peewee.CharField(max_length=64)
    holder = peewee.TextField()
    code = peewee.TextField()
    first_truck = peewee.CharField(max_length=64)
    first_order = peewee.CharField(max_length=64)
    first_at = peewee.CharField(max_length=40)
    second_truck = peewee.CharField(max_length=64)
    second_order = peewee.CharField(max_length=64)
    second_at = peewee.CharField(max_length=40)
    flagged_utc = UtcDateTimeField(index=True)


HUB_MODELS = [HubMessage, HubTruck, HubMobileOrder, HubDeadLetter, HubCodeUse, HubDoubleSpend]

_MESSAGE_FIELDS = (HubMessage.key, HubMessage.truck, HubMessage.seq, HubMessage.kind, HubMessage.ts_utc,
                   HubMessage.received_utc, HubMessage.status, HubMessage.reason, HubMessage.body_hash)
# The INSERT lists columns in the model's order; values are given in _MESSAGE_FIELDS order plus the body.
_GIVEN = {f.name for f in _MESSAGE_FIELDS} | {"body"}  # by name: a Field's == builds SQL, not a bool
_COLUMN_ORDER = [f.name for f in HubMessage._meta.sorted_fields if f.name in _GIVEN]


def insert_message(*values: object, body_text: str | None) -> bool:
    """INSERT one hub_message unless its key exists (values in _MESSAGE_FIELDS order, the body as canonical
    JSON text); True when inserted, False when the key was already there.

    The statement is generated once per database: building it per message cost more than running it.
    ON CONFLICT DO NOTHING (PostgreSQL, SQLite >= 3.24) keeps a batch transaction alive on a duplicate.
    """
    db = hub_database.obj
    cursor = db.execute_sql(_insert_sql(db), _params(values, body_text))
    return cursor.rowcount == 1


def _insert_sql(db: peewee.Database) -> str:
    sql = getattr(db, "_truck_pos_insert_message", None)  # kept on the database: placeholders differ per backend
    if sql is None:
        sql = (HubMessage.insert({name: None for name in _COLUMN_ORDER})
               .on_conflict(conflict_target=[HubMessage.key], action="NOTHING").sql()[0])
        db._truck_pos_insert_message = sql
    return sql


def _params(values: tuple[object, ...], body_text: str | None) -> list[object]:
    given = {f.name: f.db_value(v) for f, v in zip(_MESSAGE_FIELDS, values)}
    given["body"] = body_text
    return [given[name] for name in _COLUMN_ORDER]


def insert_messages(rows: list[tuple[tuple[object, ...], str | None]]) -> set[str]:
    """insert_message for many rows in ONE statement (multi-row VALUES ... ON CONFLICT DO NOTHING RETURNING key);
    returns the keys that were inserted. One round trip per batch instead of per message (PostgreSQL)."""
    if not rows:
        return set()
    db = hub_database.obj
    head, tail = _insert_sql(db).split(" VALUES ", 1)
    group = tail[: tail.index(")") + 1]
    rest = tail[len(group):].split(" RETURNING ")[0]  # peewee adds RETURNING "id" on PostgreSQL
    sql = f"{head} VALUES {', '.join([group] * len(rows))}{rest} RETURNING \"key\""
    params = [p for values, body_text in rows for p in _params(values, body_text)]
    return {key for (key,) in db.execute_sql(sql, params).fetchall()}


def open_hub_database(url: str) -> peewee.Database:
    """Connect by URL (``sqlite:///hub.db``, ``postgresql://user@host/db``) and create the tables."""
    kwargs = {"pragmas": SQLITE_PRAGMAS} if url.startswith("sqlite") else {}
    db = connect(url, **kwargs)
    hub_database.initialize(db)
    db.connect(reuse_if_open=True)
    _add_new_columns(db)  # first: create_tables also makes indexes, which may name a new column
    db.create_tables(HUB_MODELS, safe=True)
    return db


def _add_new_columns(db: peewee.Database) -> None:
    """Columns added since a hub database was made (tables are otherwise created as they are now)."""
    steps = []
    migrator = SchemaMigrator.from_database(db)
    for model in HUB_MODELS:
        table = model._meta.table_name
        if not db.table_exists(table):
            continue
        have = {c.name for c in db.get_columns(table)}
        steps += [migrator.add_column(table, f.column_name, f) for f in model._meta.sorted_fields if f.column_name not in have]
    if steps:
        with db.atomic():
            migrate(*steps)
