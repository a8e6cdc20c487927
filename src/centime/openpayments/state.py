"""What the Open Payments routes share: the server's URLs, the foreign-key fetcher, the
replay guard. One per app (``create_app(..., open_payments=OpenPaymentsState(...))``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from litestar import Request

from centime.platform.context import Platform

from .addresses import Urls
from .fetch import JwksFetcher
from .signatures import ReplayGuard

__all__ = ["OpenPaymentsState", "op_state"]


@dataclass
class OpenPaymentsState:
    platform: Platform
    urls: Urls
    fetcher: JwksFetcher = field(default_factory=JwksFetcher)
    replay: ReplayGuard = field(default_factory=ReplayGuard)


def op_state(request: Request[Any, Any, Any]) -> OpenPaymentsState:
    state: OpenPaymentsState = request.app.state["open_payments"]
    return state
