"""exsync: server-side sync between a firm's business database and its people's mailboxes."""

__version__ = "0.1.0"
