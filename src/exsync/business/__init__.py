"""The business side: the firm's own database (the reference schema, later the SQL connector)."""
