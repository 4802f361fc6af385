"""The fleet's broker ACL as a Mosquitto dynamic-security document (mosquitto 2.x, ``mosquitto_dynamic_security.so``).

Why not ``acl_file``: mosquitto 2.0's acl_file does not check SUBSCRIBE at all, so a truck could
join the hub's ``$share/hub/...`` group and take half the fleet's messages (it cannot read them:
they are lost), and nothing binds a client id to a user (a truck logging in with another truck's
client id took over its session). The dynamic-security plugin checks every SUBSCRIBE against the
full filter, ``$share/<group>/`` included, and binds each truck login to one client id.

Rules (same as PROTOCOL.md "Broker ACL"): a truck publishes only under its own ``up/`` and
``status``, subscribes only to its own ``down/#``; only hub logins may subscribe to
``$share/hub/...`` (or the plain up topics) and publish ``down/``. Everything else is denied.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from sync import protocol

ITERATIONS = 101  # what mosquitto_ctrl and mosquitto_passwd use for PBKDF2-SHA512
HUB_ROLE = "truck-pos-hub"
DEFAULT_ACCESS = {"publishClientSend": False, "publishClientReceive": False, "subscribe": False, "unsubscribe": True}


def truck_client_id(truck: str) -> str:
    """The only client id a truck's login may use (the agent's default, AgentConfig.effective_client_id)."""
    return f"truck-pos-{truck}"


def _acl(kind: str, topic: str) -> dict[str, Any]:
    return {"acltype": kind, "topic": topic, "allow": True}


def truck_role(truck: str) -> dict[str, Any]:
    """One truck's own topics and nothing else."""
    up, down, status = f"{protocol.ROOT}/{truck}/up/#", protocol.truck_subscription(truck), protocol.status_topic(truck)
    return {"rolename": f"truck-{truck}", "acls": [
        _acl("publishClientSend", up), _acl("publishClientSend", status),
        _acl("subscribePattern", down), _acl("publishClientReceive", down), _acl("unsubscribePattern", down)]}


def hub_role() -> dict[str, Any]:
    """Every truck's up and status topics (shared group or plain), and every truck's down topics."""
    up, status = protocol.hub_subscription(shared=False), protocol.status_topic("+")
    return {"rolename": HUB_ROLE, "acls": [
        _acl("subscribePattern", protocol.hub_subscription(shared=True)), _acl("subscribePattern", up),
        _acl("subscribePattern", status), _acl("publishClientReceive", up), _acl("publishClientReceive", status),
        _acl("publishClientSend", f"{protocol.ROOT}/+/down/#")]}


def client(username: str, password: str, *, roles: list[str], client_id: str | None = None) -> dict[str, Any]:
    """A dynamic-security client entry with its password hashed (PBKDF2-SHA512, never stored in clear)."""
    salt = os.urandom(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, ITERATIONS, 64)
    entry: dict[str, Any] = {"username": username, "password": base64.b64encode(digest).decode("ascii"),
                             "salt": base64.b64encode(salt).decode("ascii"), "iterations": ITERATIONS,
                             "roles": [{"rolename": r} for r in roles]}
    if client_id:
        entry["clientid"] = client_id  # the broker refuses this login under any other client id
    return entry


def fleet_document(trucks: dict[str, str], hubs: dict[str, str]) -> dict[str, Any]:
    """The whole dynamic-security document: ``trucks`` and ``hubs`` map login -> password."""
    doc: dict[str, Any] = {"clients": [], "groups": [], "roles": [hub_role()], "defaultACLAccess": dict(DEFAULT_ACCESS)}
    for user, password in hubs.items():
        doc["clients"].append(client(user, password, roles=[HUB_ROLE]))
    for truck, password in trucks.items():
        _add_truck(doc, truck, password)
    return doc


def _add_truck(doc: dict[str, Any], truck: str, password: str) -> None:
    if not protocol.TRUCK_ID_RE.fullmatch(truck):
        raise ValueError(f"truck id {truck!r} is not usable in topics")
    role = truck_role(truck)
    doc["roles"] = [r for r in doc["roles"] if r["rolename"] != role["rolename"]] + [role]
    doc["clients"] = [c for c in doc["clients"] if c["username"] != truck]
    doc["clients"].append(client(truck, password, roles=[role["rolename"]], client_id=truck_client_id(truck)))


def add_truck(path: Path, truck: str, password: str) -> None:
    """Add (or replace) one truck's login and role in a dynamic-security file (0600; created if missing).

    Reload the broker afterwards (``systemctl reload mosquitto``), or use ``mosquitto_ctrl dynsec`` live.
    """
    doc = json.loads(path.read_text("utf-8")) if path.exists() else fleet_document({}, {})
    _add_truck(doc, truck, password)
    write_document(path, doc)


def add_hub(path: Path, user: str, password: str) -> None:
    """Add (or replace) a hub login (the hub role; no client id binding: each hub process has its own ids)."""
    doc = json.loads(path.read_text("utf-8")) if path.exists() else fleet_document({}, {})
    doc["clients"] = [c for c in doc["clients"] if c["username"] != user] + [client(user, password, roles=[HUB_ROLE])]
    write_document(path, doc)


def write_document(path: Path, doc: dict[str, Any]) -> None:
    """Write the document readable by its owner only (it holds password hashes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(doc, out, indent=1)
    os.chmod(path, 0o600)
