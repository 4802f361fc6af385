"""The hub's own tables, bound through ``playhouse.db_url`` (SQLite for one owner, PostgreSQL for a fleet).

These are not truck tables: they bind to ``hub_database``, never to the truck's store.
"""

from __future__ import annotations

import peewee
from playhouse.db_url import connect

from truck_pos.store.base import JsonField, UtcDateTimeField

hub_database = peewee.DatabaseProxy()

SQLITE_PRAGMAS = {"journal_mode": "wal", "synchronous": 1, "busy_timeout": 10000}


class HubModel(peewee.Model):
    """Base of the hub tables."""

    class Meta:
        database = hub_database
        legacy_table_names = False


class HubMessage(HubModel):
    """One envelope from a truck, ingested once per idempotency key (``status`` ok | rejected)."""

    key = peewee.CharField(max_length=64, unique=True)
    truck = peewee.CharField(max_length=64)
    seq = peewee.BigIntegerField()
    kind = peewee.CharField(max_length=40, index=True)
    ts_utc = UtcDateTimeField(null=True, index=True)
    received_utc = UtcDateTimeField()
    status = peewee.CharField(max_length=10, default="ok")
    reason = peewee.TextField(default="")
    body = JsonField(null=True)

    class Meta:
        indexes = ((("truck", "seq"), False),)


class HubTruck(HubModel):
    """Per truck: the highest contiguous seq ingested (what ``ack`` says), and its last status."""

    truck = peewee.CharField(max_length=64, unique=True)
    contiguous_seq = peewee.BigIntegerField(default=0)
    status = peewee.CharField(max_length=10, default="")
    last_seen_utc = UtcDateTimeField(null=True)


class HubMobileOrder(HubModel):
    """A prepaid mobile order sent down; ``delivered_utc`` is set when the truck's order comes back up."""

    order_id = peewee.CharField(max_length=64, unique=True)
    truck = peewee.CharField(max_length=64, index=True)
    body = JsonField()
    created_utc = UtcDateTimeField()
    sent_count = peewee.IntegerField(default=0)
    last_sent_utc = UtcDateTimeField(null=True)
    delivered_utc = UtcDateTimeField(null=True)


class HubDeadLetter(HubModel):
    """Something arrived that is not even an envelope we can place; kept with the reason."""

    received_utc = UtcDateTimeField(index=True)
    topic = peewee.TextField()
    reason = peewee.TextField()
    payload = peewee.TextField()


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
                   HubMessage.received_utc, HubMessage.status, HubMessage.reason, HubMessage.body)


def insert_message(*values: object) -> None:
    """INSERT one hub_message (values in _MESSAGE_FIELDS order); peewee.IntegrityError on a duplicate key.

    The statement is generated once per database: building it per message cost more than running it.
    """
    db = hub_database.obj
    sql = getattr(db, "_truck_pos_insert_message", None)  # kept on the database: placeholders differ per backend
    if sql is None:
        sql = HubMessage.insert({f: None for f in _MESSAGE_FIELDS}).sql()[0]
        db._truck_pos_insert_message = sql
    db.execute_sql(sql, [f.db_value(v) for f, v in zip(_MESSAGE_FIELDS, values)])


def open_hub_database(url: str) -> peewee.Database:
    """Connect by URL (``sqlite:///hub.db``, ``postgresql://user@host/db``) and create the tables."""
    kwargs = {"pragmas": SQLITE_PRAGMAS} if url.startswith("sqlite") else {}
    db = connect(url, **kwargs)
    hub_database.initialize(db)
    db.connect(reuse_if_open=True)
    db.create_tables(HUB_MODELS, safe=True)
    return db
