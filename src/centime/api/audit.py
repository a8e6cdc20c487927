"""Audit endpoints: the latest signed tree head, inclusion and consistency proofs (RFC 9162
shapes, hashes in standard base64), and the published keys at a well-known URL."""

from __future__ import annotations

from typing import Annotated, Any, Final

from litestar import Request, Response, Router, get
from litestar.params import Parameter

from centime.audit import AuditReader, NotFoundError, ProofError
from centime.audit.service import consistency_document, inclusion_document
from centime.http.problems import PROBLEM_JSON, ApiCode, problem_response, problems
from centime.ledger.port import LedgerStore

__all__ = ["PROBLEM_JSON", "audit_routes", "problem"]

INT_MAX: Final = 2**63 - 1


def problem(status: int, title: str, detail: str) -> Response[Any]:
    """An RFC 9457 problem document (centime.http.problems): 400 ``invalid_request`` or 404
    ``not_found``; ``title`` is kept for callers, the code's title is sent."""
    del title
    return problem_response(ApiCode.NOT_FOUND if status == 404 else ApiCode.INVALID_REQUEST, detail)


def _store(request: Request[Any, Any, Any]) -> LedgerStore:
    store: LedgerStore = request.app.state.store
    return store


@get("/v1/audit/tree-head", sync_to_thread=True, responses=problems(404, public=True))
def tree_head(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    """The latest signed tree head."""
    with _store(request).audit_reader() as fetch:
        head = AuditReader(fetch).latest_head()
    if head is None:
        return problem(404, "No tree head", "no signed tree head has been issued yet")
    return Response(head.to_json())


@get("/v1/audit/inclusion-proof", sync_to_thread=True, responses=problems(404, public=True))
def inclusion(
    request: Request[Any, Any, Any],
    transfer_id: Annotated[int, Parameter(ge=1, le=INT_MAX)],
    tree_size: Annotated[int | None, Parameter(ge=1, le=INT_MAX)] = None,
) -> Response[dict[str, Any]]:
    """The audit path of a transfer's leaf in the tree of ``tree_size`` leaves (default: the
    latest signed head's), with that head when one of that size was signed."""
    try:
        return Response(inclusion_document(_store(request), transfer_id, tree_size))
    except (NotFoundError, ProofError) as error:
        return problem(404, "No such proof", str(error))


@get("/v1/audit/consistency-proof", sync_to_thread=True, responses=problems(404, public=True))
def consistency(
    request: Request[Any, Any, Any],
    first: Annotated[int, Parameter(ge=0, le=INT_MAX)],
    second: Annotated[int, Parameter(ge=0, le=INT_MAX)],
) -> Response[dict[str, Any]]:
    """The consistency proof from the tree of ``first`` leaves to the tree of ``second``."""
    if first > second:
        return problem(400, "Bad sizes", "first must not exceed second")
    try:
        return Response(consistency_document(_store(request), first, second))
    except (NotFoundError, ProofError) as error:
        return problem(404, "No such proof", str(error))


@get("/.well-known/centime-audit-keys.json", sync_to_thread=True, responses=problems(public=True))
def keys(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    """Every public key that ever signed a head, oldest first, each endorsed by the one
    before it."""
    with _store(request).audit_reader() as fetch:
        keyring = AuditReader(fetch).keyring()
    return Response(keyring.to_json())


audit_routes: Final = Router(
    path="/", route_handlers=[tree_head, inclusion, consistency, keys], tags=["audit"]
)
