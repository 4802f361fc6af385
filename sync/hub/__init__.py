"""The cloud side of sync: ingest, dead letters and the hub's commands (runs as ``truck-pos-hub``)."""

from sync.hub.ingest import Hub, HubConfig

__all__ = ["Hub", "HubConfig"]
