"""The test broker lives in sync/local_broker.py (the simulated day uses it too); re-exported here."""

from devtools.local_broker import FLEET_ACL, MOSQUITTO, MOSQUITTO_PASSWD, REPO, MosquittoBroker, free_port  # noqa: F401
