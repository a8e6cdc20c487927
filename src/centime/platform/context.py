"""The platform's composition: what every service needs, and how an operation runs.

A service operation is built as an :class:`Operation`: a write unit plus the most ledger
events it may submit. Running it (``platform.execute(op)``) hands it to the ledger's writer,
so the operation's reads, its ledger chain and its own rows commit in one transaction. The
API wraps operations (idempotency, for one) before running them; services never run SQL
outside a unit, except reads through :meth:`Platform.read`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, NamedTuple, TypeVar

from centime.clock import Clock
from centime.ledger import Ledger
from centime.ledger.port import Fetch
from centime.ledger.units import Overlap, UnitContext
from centime.providers.funding import FundingProvider
from centime.providers.payouts import PayoutProvider
from centime.risk.types import Screen

from .config import PlatformConfig
from .no_screen import NoScreen

if TYPE_CHECKING:  # both modules import Platform from here
    from .events.webhook_targets import TargetPolicy
    from .events.webhooks import SecretBox

__all__ = ["Operation", "Platform", "Providers"]

T = TypeVar("T")
U = TypeVar("U")


class Operation(NamedTuple, Generic[T]):
    """A write unit and the bound on the ledger events it submits."""

    unit: Callable[[UnitContext], T]
    events_max: int
    # The unit's leave to overlap other processes' groups on PostgreSQL (None: it runs
    # alone among the writers); see centime.ledger.units.Overlap.
    overlap: Overlap | None = None

    def then(self, wrap: Callable[[UnitContext, Callable[[UnitContext], T]], U]) -> Operation[U]:
        """The operation with ``wrap`` around its unit (same event bound and overlap: ``wrap``
        must keep the unit's promise, reading nothing another writer may change under it):
        ``wrap`` gets the context and the inner unit, and decides whether and how to call it."""
        unit = self.unit
        return Operation(lambda ctx: wrap(ctx, unit), self.events_max, self.overlap)


@dataclass
class Providers:
    """The outside parties and the keys the services reach, each by its own name and type.

    The composition root (:mod:`centime.app`) fills them. A key left out is read from the
    environment the first time a service needs it, then kept here (see
    :func:`~centime.platform.events.webhooks.secret_box`,
    :func:`~centime.platform.funding.instruments.instrument_key`,
    :func:`~centime.platform.events.webhook_targets.target_policy`)."""

    funding: dict[str, FundingProvider] = field(default_factory=dict)
    payout_rails: dict[str, PayoutProvider] = field(default_factory=dict)
    webhook_box: SecretBox | None = None
    instrument_key: bytes | None = None
    webhook_targets: TargetPolicy | None = None

    def parties(self) -> dict[str, FundingProvider | PayoutProvider]:
        """The funding providers and payout rails by name (for reconciliation)."""
        return {**self.funding, **self.payout_rails}


@dataclass
class Platform:
    """The services' dependencies: the ledger (and through it the store), the clock, the
    configuration, the providers and the risk screen (set by the composition root).

    ``screen`` is asked before money moves (centime.platform.review.screening). Left out, it is
    :class:`~centime.platform.no_screen.NoScreen`, which blocks every screened operation:
    the composition roots (``centime serve``, ``centime demo``) pass the risk engine, and
    tests that screen nothing in particular pass an allowing test double explicitly."""

    ledger: Ledger
    clock: Clock
    config: PlatformConfig = field(default_factory=PlatformConfig)
    providers: Providers = field(default_factory=Providers)
    screen: Screen = field(default_factory=NoScreen)

    def execute(self, operation: Operation[T]) -> T:
        """Run an operation in the ledger's writer; its result once it is durable."""
        return self.ledger.run(operation.unit, operation.events_max, operation.overlap)

    @contextmanager
    def read(self) -> Iterator[Fetch]:
        """Read-only queries (``?`` placeholders) over one snapshot, on any thread."""
        with self.ledger.store.reader() as fetch:
            yield fetch
