"""The SQL connector: any SQLAlchemy database, read and written through a mapping file."""

from exsync.business.sql.connector import SqlConnector
from exsync.business.sql.side import SqlBusiness

__all__ = ["SqlBusiness", "SqlConnector"]
