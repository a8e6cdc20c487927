"""The /v1 routes, one module per resource; ``api_routes`` is what the app mounts (behind
the authentication guard). A new resource: a module here, its list added below."""

from .keys import key_routes
from .parties import party_routes

__all__ = ["api_routes"]

api_routes = [*party_routes, *key_routes]
