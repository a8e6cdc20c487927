"""The API's housekeeping, as worker jobs (:class:`centime.worker.Job`): run under a lease
by the worker embedded in ``centime serve`` or by ``centime worker`` processes, like every
other periodic job. Each is bounded per run (the idempotency purge deletes at most
IDEMPOTENCY_PURGE_MAX rows), so one run cannot hold the ledger's writer for long.
"""

from __future__ import annotations

from centime.limits import IDEMPOTENCY_PURGE_INTERVAL_S
from centime.platform.context import Platform
from centime.worker import Job

from .idempotency import purge_expired

__all__ = ["housekeeping_jobs", "purge_idempotency_keys"]


def purge_idempotency_keys(platform: Platform) -> int:
    """One bounded purge of stored responses past their keeping time; rows deleted."""
    return platform.execute(purge_expired())


def housekeeping_jobs() -> list[Job]:
    """The API's periodic jobs (the composition root adds them to every service's)."""
    from centime.openpayments.streams import SETTLE_INTERVAL_S, settle_idle_streams

    return [
        Job("idempotency.purge", IDEMPOTENCY_PURGE_INTERVAL_S, purge_idempotency_keys),
        # Web Monetization streams idle for a minute are settled (centime.openpayments).
        Job("openpayments.streams", SETTLE_INTERVAL_S, settle_idle_streams),
    ]
