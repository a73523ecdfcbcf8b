"""The connector conformance suite, run against the SQL connector on SQLite, PostgreSQL and MariaDB,
with the business application editing, touching and deleting rows through its own connection."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlfirm import Firm

from exsync.business.sql import SqlConnector
from exsync.connector import Connector
from exsync.testing.conformance import ConnectorConformance


class TestSqlConformance(ConnectorConformance):
    @pytest.fixture(params=["contacts", "calendar", "tasks"])
    def connector(self, request: pytest.FixtureRequest, firm: Firm) -> SqlConnector:
        self.firm = firm
        return firm.connector(request.param)

    def _key(self, connector: Connector, id: str) -> Any:
        assert isinstance(connector, SqlConnector)
        return connector._key(id)

    def outside_edit(self, connector: Connector, id: str, **fields: Any) -> None:
        assert isinstance(connector, SqlConnector)
        s = connector.schema
        values = {s.fields[name].columns[0].name: value for name, value in fields.items()}
        with self.firm.engine.begin() as conn:
            conn.execute(update(s.table).where(s.key == self._key(connector, id)).values(values))

    def outside_delete(self, connector: Connector, id: str) -> None:
        assert isinstance(connector, SqlConnector)
        s = connector.schema
        self.firm.sql(f"DELETE FROM {s.table.name} WHERE id = :id", id=self._key(connector, id))

    def outside_touch(self, connector: Connector, id: str) -> None:
        """The business application saves the row unchanged: only updated_at moves."""
        assert isinstance(connector, SqlConnector)
        s = connector.schema
        assert s.updated is not None
        key = self._key(connector, id)
        with self.firm.engine.begin() as conn:
            current = conn.scalar(select(s.updated.column).where(s.key == key))
            later = s.updated.read(current) + timedelta(seconds=1)
            conn.execute(
                update(s.table).where(s.key == key).values({s.updated.column: s.updated.param(later)})
            )


def test_token_time_is_the_databases(firm: Firm) -> None:
    """The watermark comes from the database's clock, so a skewed exsync host cannot skip rows."""
    token = firm.connector("contacts").changes(None).token
    assert token is not None and token.startswith("sql1:")
    import json

    at = datetime.fromisoformat(json.loads(token[5:])["at"])
    assert abs((at - datetime.now(at.tzinfo)).total_seconds()) < 120
