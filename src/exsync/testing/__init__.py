"""Test doubles for the connector contract: in-memory and file-backed stores, fault injection.

``exsync.testing.conformance`` (the connector conformance suite) needs pytest and is not imported
here, so the file-backed store can serve an ``exsync`` subprocess without test dependencies.
"""

from exsync.testing.faults import EVERY, READS, WRITES, Crash, Fault, Faults, Kind
from exsync.testing.jsonfile import JsonFileStore
from exsync.testing.memory import DEFAULT_TABLES, Calls, MemoryConnector, MemoryStore, memory_pair

__all__ = [
    "DEFAULT_TABLES",
    "EVERY",
    "READS",
    "WRITES",
    "Calls",
    "Crash",
    "Fault",
    "Faults",
    "JsonFileStore",
    "Kind",
    "MemoryConnector",
    "MemoryStore",
    "memory_pair",
]
