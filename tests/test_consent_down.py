"""An unsubscribe at the hub reaches the truck: the down ``consent`` message through the real agent's inbox."""

from __future__ import annotations

from sync import protocol
from truck_pos.bootstrap import agent_for
from truck_pos.store.campaign_models import Consent
from truck_pos.store.outbox import Outbox


def test_an_unsubscribe_at_the_hub_withdraws_the_consent_on_the_truck_without_echoing_it_up(services, clock):
    ref, _ = services.registration.register(email="ana@example.com", consent=True)
    assert services.registration.has_consent(ref)
    agent = agent_for(services)
    before = Outbox.select().count()
    body = {"customer_ref": ref, "granted": False, "wording_version": "withdrawal", "at": clock.now().isoformat(),
            "channel": "email", "source": "hub"}
    truck = services.settings.truck.id
    raw = protocol.encode(protocol.envelope(truck=truck, seq=0, kind="consent", key="c-1", ts=clock.now(), body=body))
    applied, reason = agent.handle_inbound(protocol.down_topic(truck, "consent"), raw)
    assert applied, reason
    assert not services.registration.has_consent(ref)
    assert Consent.select().order_by(Consent.id.desc()).first().wording_version == "hub:email:withdrawal"
    assert Outbox.select().count() == before  # the hub already knows: nothing goes back up


def test_a_consent_for_an_unknown_customer_is_applied_as_nothing(services, clock):
    agent = agent_for(services)
    truck = services.settings.truck.id
    body = {"customer_ref": "nobody-here", "granted": False, "wording_version": "withdrawal", "at": clock.now().isoformat()}
    raw = protocol.encode(protocol.envelope(truck=truck, seq=0, kind="consent", key="c-2", ts=clock.now(), body=body))
    applied, reason = agent.handle_inbound(protocol.down_topic(truck, "consent"), raw)
    assert applied and "does not know" in reason
    assert Consent.select().count() == 0
