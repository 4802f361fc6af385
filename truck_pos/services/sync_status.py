"""One status-bar line about sync: online or not, what is waiting, when the hub last acknowledged.

Works with the agent running in this process (its live state) or in its own service (``truck-pos-sync``,
the appliance default), where the outbox counts in the shared database tell the story.
"""

from __future__ import annotations

from typing import Any

from truck_pos.clock import Clock
from truck_pos.domain.calendar import local
from truck_pos.store import outbox
from truck_pos.store.sync_models import rejection_summary


class SyncStatusService:
    """Answers from memory or one cheap COUNT query; never touches the network."""

    def __init__(self, clock: Clock, timezone: str, agent: Any = None, enabled: bool = False):
        self.clock = clock
        self.timezone = timezone
        self.agent = agent
        self.enabled = enabled

    def line(self) -> str:
        if self.agent is not None:
            s = self.agent.status()
            state = "online" if s.connected else "offline"
            waiting = s.queued + s.unacked
            ack = f", last ack {local(s.last_ack_utc, self.timezone):%H:%M}" if s.last_ack_utc else ""
            return f"sync {state}, {waiting} waiting{ack}{rejected_text(s.rejected, s.last_rejection)}"
        waiting = outbox.waiting()
        if not self.enabled:
            return f"sync off, {waiting} waiting" if waiting else "sync off"
        return f"sync: {waiting} waiting{rejected_text(*rejection_summary())}"

    def rejected(self) -> tuple[int, str]:
        """How many of this truck's messages the hub refused, and its latest reason."""
        if self.agent is not None:
            s = self.agent.status()
            return s.rejected, s.last_rejection
        return rejection_summary()


def rejected_text(count: int, reason: str) -> str:
    """", N rejected by the hub: <reason>" (empty when none)."""
    return f", {count} rejected by the hub: {reason[:120]}" if count else ""
