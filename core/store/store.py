"""The store as one object: cases, histories, the outbox, events, the work queue and console users."""

from __future__ import annotations

from dunning.core.store.cases import CasesMixin
from dunning.core.store.events import EventsMixin
from dunning.core.store.history import HistoryMixin
from dunning.core.store.learning import LearningMixin
from dunning.core.store.people import PeopleMixin
from dunning.core.store.portfolio import PortfolioMixin
from dunning.core.store.quarantine import QuarantineMixin
from dunning.core.store.sending import SendPath
from dunning.core.store.users import UsersMixin

__all__ = ["Store", "open_store"]


class Store(
    EventsMixin,
    CasesMixin,
    HistoryMixin,
    QuarantineMixin,
    PeopleMixin,
    UsersMixin,
    PortfolioMixin,
    LearningMixin,
):
    """SQLite or PostgreSQL, chosen by URL; the source of truth for every reminder."""

    def __init__(self, url: str, *, pool_size: int = 10, pool_timeout: float = 10.0) -> None:
        super().__init__(url, pool_size=pool_size, pool_timeout=pool_timeout)
        #: a usual delivery's statements straight to the driver (PostgreSQL; None elsewhere)
        self.sending = SendPath(self.engine.dialect) if self.dialect == "postgresql" else None


def open_store(url: str, *, migrate: bool = True, pool_size: int = 10, pool_timeout: float = 10.0) -> Store:
    """Open the store at ``url``, creating or upgrading its schema unless told not to.

    ``pool_size`` connections are kept (as many more may open under load);
    a caller waits at most ``pool_timeout`` seconds for one.
    """
    store = Store(url, pool_size=pool_size, pool_timeout=pool_timeout)
    if migrate:
        store.migrate()
    return store
