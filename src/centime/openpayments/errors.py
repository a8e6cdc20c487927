"""Open Payments errors: ``{"error": {"code", "description"}}`` with the status the
specification gives (GNAP codes on the authorization server: ``invalid_request``,
``invalid_client``, ``request_denied``, ``invalid_continuation``, ``invalid_rotation``,
``too_fast``; the resource server's ``error-response`` otherwise)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response

__all__ = ["OpError", "op_error_response"]


class OpError(Exception):
    """An expected refusal: nothing changed; the client is told why."""

    def __init__(self, status: int, code: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.code = code
        self.description = description


def op_error_response(request: Request[Any, Any, Any], error: OpError) -> Response[bytes]:
    body = msgspec.json.encode({"error": {"code": error.code, "description": error.description}})
    headers = {"WWW-Authenticate": "GNAP"} if error.status == 401 else {}
    return Response(body, status_code=error.status, media_type="application/json", headers=headers)
