"""truck_pos: an offline-first point-of-sale appliance for a food truck."""

__version__ = "0.1.0"
