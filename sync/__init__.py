"""MQTT sync, split by where it runs: the shared contract (protocol, transport), the truck's agent, the hub, the owner's nightly."""
