"""The reach tables on the hub database: campaigns, send jobs, sends, proximity events, consent going down."""

from __future__ import annotations

import peewee

from sync.hub import customers as _customers
from sync.hub.customers import HubCustomer
from sync.hub.models import HUB_MODELS, HubModel
from truck_pos.store.base import JsonField, UtcDateTimeField

# Send states: pending (waiting for due_at) -> sending (claimed, lease in claimed_until) -> sent | dead | skipped.
PENDING, SENDING, SENT, DEAD, SKIPPED = "pending", "sending", "sent", "dead", "skipped"


class HubCampaign(HubModel):
    """The owner's whole campaign document (messages included) and what the truck gets (messages stripped)."""

    campaign_id = peewee.CharField(max_length=64, unique=True)
    document = JsonField()
    truck_document = JsonField()
    scheduled_at = UtcDateTimeField()


class HubSendJob(HubModel):
    """One message (or variant set) of a campaign, due at a time; expanded into sends when due."""

    key = peewee.CharField(max_length=200, unique=True)  # campaign:message
    campaign_id = peewee.CharField(max_length=64)
    message_id = peewee.CharField(max_length=64)
    due_at = UtcDateTimeField(index=True)
    state = peewee.CharField(max_length=10, default=PENDING)  # pending | sending | done | dead
    claimed_by = peewee.CharField(max_length=80, null=True)
    claimed_until = UtcDateTimeField(null=True)
    recipients = peewee.IntegerField(default=0)
    error = peewee.TextField(default="")


class HubSend(HubModel):
    """One message to one recipient (or one social post); ``key`` is the idempotency key (recipient x message)."""

    key = peewee.CharField(max_length=200, unique=True)
    campaign_id = peewee.CharField(max_length=64, index=True)
    message_id = peewee.CharField(max_length=64)
    segment = peewee.CharField(max_length=64)
    channel = peewee.CharField(max_length=20)
    variant = peewee.CharField(max_length=40, default="")
    customer = peewee.ForeignKeyField(HubCustomer, null=True, backref="sends", on_delete="SET NULL")
    recipient = peewee.TextField(default="")  # address at expansion time (email, phone, endpoint, page)
    code_mode = peewee.CharField(max_length=10, default="personal")  # personal | segment | none
    code = peewee.TextField(default="")  # the code put in the message (filled when sent; signatures are deterministic)
    code_key = peewee.CharField(max_length=64, default="", index=True)  # sha256 of the normalized code, for attribution
    due_at = UtcDateTimeField()
    state = peewee.CharField(max_length=10, default=PENDING)
    attempts = peewee.IntegerField(default=0)
    claimed_by = peewee.CharField(max_length=80, null=True)
    claimed_until = UtcDateTimeField(null=True)
    in_doubt = peewee.IntegerField(default=0)  # times a claim expired with the outcome unknown (a worker died)
    error = peewee.TextField(default="")
    provider_id = peewee.TextField(default="")
    text = peewee.TextField(default="")  # what was sent (the owner copies social posts from here)
    sent_at = UtcDateTimeField(null=True)
    sent_by = peewee.CharField(max_length=80, default="")  # the worker that sent it
    unsubscribed_at = UtcDateTimeField(null=True)
    trigger = peewee.CharField(max_length=20, default="schedule")  # schedule | proximity

    class Meta:
        indexes = ((("state", "due_at"), False), (("customer", "sent_at"), False))


class HubCode(HubModel):
    """A personal code minted ahead, when its message was planned (``Scheduler.plan``), for the send to put in as it is.

    Ed25519 is deterministic: the stored code is byte for byte what signing at send time would make, as long as
    the fields it names (campaign, segment, ref) and the key (``key_id``) are the same; a send looks it up by all
    four, so a person whose ref changed since, or a new signing key, gets a code signed then and there.
    """

    campaign_id = peewee.CharField(max_length=64)
    segment = peewee.CharField(max_length=64)
    ref = peewee.CharField(max_length=300)  # what the code names: the truck's customer ref or hub-<uuid>
    key_id = peewee.CharField(max_length=16)  # sha256 of the signing key's public key, 16 hex
    customer = peewee.ForeignKeyField(HubCustomer, null=True, on_delete="CASCADE")
    code = peewee.TextField()

    class Meta:
        indexes = ((("campaign_id", "segment", "ref", "key_id"), True), (("customer", "key_id"), False))


class HubProximity(HubModel):
    """A proximity event (truck scan or geo report) and the send it caused, once per customer per window."""

    event_key = peewee.CharField(max_length=200, unique=True)
    customer = peewee.ForeignKeyField(HubCustomer, null=True, on_delete="SET NULL")
    campaign_id = peewee.CharField(max_length=64, null=True)
    segment = peewee.CharField(max_length=64)
    source = peewee.CharField(max_length=20)
    truck = peewee.CharField(max_length=64, default="")
    received_at = UtcDateTimeField()
    outcome = peewee.TextField(default="")


class HubConsentDown(HubModel):
    """Consent changes to publish to the trucks (``consent`` down message); an outbox, sent by the hub process."""

    key = peewee.CharField(max_length=64, unique=True)
    body = JsonField()
    created_at = UtcDateTimeField()
    published_at = UtcDateTimeField(null=True, index=True)


REACH_MODELS = [HubCampaign, HubSendJob, HubSend, HubCode, HubProximity, HubConsentDown]
HUB_MODELS.extend(m for m in REACH_MODELS if m not in HUB_MODELS)


def _export_sends(customer: HubCustomer) -> dict[str, object]:
    return {"messages": [{"campaign": s.campaign_id, "message": s.message_id, "channel": s.channel, "state": s.state,
                          "sent_at": s.sent_at.isoformat() if s.sent_at else None, "text": s.text}
                         for s in HubSend.select().where(HubSend.customer == customer).order_by(HubSend.id)]}


def _erase_sends(customer: HubCustomer) -> None:
    # the rows stay for the campaign's counts; who they went to and what they said go
    HubSend.update(recipient="", text="", code="").where(HubSend.customer == customer).execute()
    HubCode.delete().where(HubCode.customer == customer).execute()


def _merge_sends(keep: HubCustomer, other: HubCustomer) -> None:
    HubSend.update(customer=keep).where(HubSend.customer == other).execute()
    HubProximity.update(customer=keep).where(HubProximity.customer == other).execute()
    HubCode.update(customer=keep).where(HubCode.customer == other).execute()


_customers.EXPORTERS.append(_export_sends)
_customers.ERASERS.append(_erase_sends)
_customers.MERGERS.append(_merge_sends)
