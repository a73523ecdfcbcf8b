"""Typed outcomes a connector reports instead of protocol details (HTTP, SQL)."""

from __future__ import annotations


class ConnectorError(Exception):
    """Base of everything a connector reports. Messages never carry secrets."""

    category = "data"


class ItemError(ConnectorError):
    """Concerns one item; the others go on."""


class Throttled(ItemError):
    """The side asks us to wait ``wait`` seconds before trying this item again."""

    category = "throttling"

    def __init__(self, message: str = "throttled", wait: float = 1.0) -> None:
        super().__init__(message)
        self.wait = wait


class VersionConflict(ItemError):
    """The item changed since we read it (HTTP 412): re-read and decide again."""


class Gone(ItemError):
    """The item does not exist (any more)."""


class Rejected(ItemError):
    """The side refused this item (invalid value, forbidden for this item)."""


class TokenExpired(ConnectorError):
    """The delta token can no longer be used: do a full reconciliation."""


class SideError(ConnectorError):
    """Concerns the whole side: the (profile, part) run fails and is retried next time."""


class Unavailable(SideError):
    category = "network"


class AuthFailed(SideError):
    category = "auth"


class PermissionDenied(SideError):
    category = "permission"


class PartUnsupported(ConnectorError):
    """This side cannot serve the part at all (its mapping has no table for it): the pair is skipped."""
