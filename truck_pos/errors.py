"""The few errors a person or a caller must handle; messages are written for the reader."""


class TruckPosError(Exception):
    """Base class: ``str(exc)`` is a sentence fit for the screen."""


class ConfigError(TruckPosError):
    """The config file or an environment override is wrong."""


class InvalidInput(TruckPosError):
    """A request the register refuses (unknown item, bad quantity, short tender...)."""


class NotAuthorized(TruckPosError):
    """Wrong PIN, or the action needs a manager."""


class NotFound(TruckPosError):
    """The ticket, order or record does not exist."""


class DeviceUnavailable(TruckPosError):
    """A printer, scanner or radio cannot be used right now."""


class SyncUnavailable(TruckPosError):
    """The broker or hub cannot be reached right now."""
