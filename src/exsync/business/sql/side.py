"""``SqlBusiness``: the business side on a SQL database: its staff list, a connector per (profile, part)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import Engine, func, select, text

from exsync.business.mapping import Mapping, load_mapping
from exsync.business.sql.connector import SqlConnector
from exsync.business.sql.engine import business_engine, unavailable_on_error
from exsync.business.sql.schema import BusinessSchema, bind_schema
from exsync.connector import Connector, PartUnsupported, Staff
from exsync.settings import PartSettings
from exsync.state.base import StoreBase
from exsync.state.records import ProfileRow


class SqlBusiness:
    """A firm's database at a SQLAlchemy URL, read and written through a mapping."""

    def __init__(self, engine: Engine, mapping: Mapping, *, today: date | None = None) -> None:
        self.engine = engine
        self.mapping = mapping
        self.today = today
        self.schema: BusinessSchema = bind_schema(engine, mapping)
        self.shared_store: StoreBase | None = None

    @classmethod
    def open(
        cls, url: str, mapping: str | Path | Mapping = "reference", *, today: date | None = None
    ) -> SqlBusiness:
        engine = business_engine(url)
        try:
            with unavailable_on_error():
                return cls(
                    engine, mapping if isinstance(mapping, Mapping) else load_mapping(mapping), today=today
                )
        except BaseException:
            engine.dispose()
            raise

    def join_state_store(self, store: StoreBase) -> bool:
        """Use ``store`` inside the writes' transactions when it lives in this database; True if it does."""
        self.shared_store = store if store.same_database(self.engine) else None
        return self.shared_store is not None

    def close(self) -> None:
        self.engine.dispose()

    def staff(self) -> list[Staff]:
        """Staff members with a mailbox address (leavers included, flagged inactive, so profiles stop)."""
        s = self.schema.staff
        active = func.coalesce(s.active, 1) if s.active is not None else None
        zone = s.time_zone
        columns = [s.key, s.code, s.name, s.email, *(c for c in (active, zone) if c is not None)]
        query = select(*columns).where(func.coalesce(s.email, "") != "").order_by(s.key)
        if s.where:
            query = query.where(text(s.where))
        out = []
        with unavailable_on_error(), self.engine.connect() as conn:
            for row in conn.execute(query, {"staff_id": None, "staff_code": None}):
                values = list(row)
                is_active = bool(values[4]) if active is not None else True
                time_zone = str(values[-1] or "") if zone is not None else ""
                out.append(Staff(int(values[0]), str(values[1]), str(values[2] or ""), str(values[3]).strip(),
                                 is_active, time_zone))  # fmt: skip
        return out

    def connector(self, profile: ProfileRow, part: str, settings: PartSettings) -> Connector:
        schema = self.schema.parts.get(part)
        if schema is None:
            what = (
                "the e-mail archive comes in a later release" if part == "mail" else "add it to the mapping"
            )
            raise PartUnsupported(
                f"the business mapping has no [{part}] table ({what}); "
                f'set {part}.direction = "off" to stop trying'
            )
        return SqlConnector(
            self.engine,
            schema,
            settings,
            staff_id=profile.staff_id,
            staff_code=profile.code,
            staff_email=profile.email,
            time_zone=profile.time_zone or "UTC",
            today=self.today,
            shared_store=self.shared_store,
        )
