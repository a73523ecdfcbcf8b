"""The canonical model: items both sides map to, normalisation and hashing."""

from exsync.model.hashing import field_hashes, projection_hash, value_hash
from exsync.model.items import (
    MODELS,
    PART_NAMES,
    Attendee,
    Canonical,
    Contact,
    Event,
    Fields,
    MailMessage,
    Occurrence,
    Part,
    Recipient,
    Task,
    Value,
    model_for,
)

__all__ = [
    "MODELS",
    "PART_NAMES",
    "Attendee",
    "Canonical",
    "Contact",
    "Event",
    "Fields",
    "MailMessage",
    "Occurrence",
    "Part",
    "Recipient",
    "Task",
    "Value",
    "field_hashes",
    "model_for",
    "projection_hash",
    "value_hash",
]
