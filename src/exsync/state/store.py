"""``StateStore``: everything exsync remembers between runs, in one SQL database."""

from __future__ import annotations

from exsync.state.engine import make_engine
from exsync.state.history import HistoryStore
from exsync.state.links import LinkStore
from exsync.state.locks import LockStore
from exsync.state.migrate import upgrade
from exsync.state.pairs import PairStore
from exsync.state.profiles import ProfileStore


class StateStore(LinkStore, PairStore, HistoryStore, ProfileStore, LockStore):
    """The state store at ``url`` (``sqlite:///path``, ``sqlite://`` in memory, ``postgresql+psycopg://…``).

    With ``create`` (the default) the schema is created or upgraded to the newest migration first.
    Every public call that writes is a transaction of its own. Times come back as aware UTC datetimes.
    """

    def __init__(self, url: str, *, create: bool = True) -> None:
        engine = make_engine(url)
        try:
            if create:
                upgrade(engine)
        except BaseException:
            engine.dispose()
            raise
        super().__init__(engine)

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
