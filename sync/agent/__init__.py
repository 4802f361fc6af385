"""The truck's side of sync: the store-and-forward agent (runs on the truck, as ``truck-pos-sync``)."""

from sync.agent.client import SyncAgent
from sync.agent.config import AgentConfig, SyncStatus

__all__ = ["AgentConfig", "SyncAgent", "SyncStatus"]
