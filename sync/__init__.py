"""MQTT sync: protocol, truck agent, reference hub and the owner's nightly sync."""
