"""Graph's resources, one module each; importing this package registers their routes."""

from exsync.sandbox.resources import batch, calendar, contacts, mail, todo, users

__all__ = ["batch", "calendar", "contacts", "mail", "todo", "users"]
