"""Who a request is: API keys (merchants' and the operator's), their scopes and revocation."""

from .keys import (
    ApiKey,
    KeyVerifier,
    NewKey,
    OwnerKind,
    Principal,
    Scope,
    create_key,
    get_key,
    list_keys,
    parse_scopes,
    parse_token,
    revoke_key,
)

__all__ = [
    "ApiKey",
    "KeyVerifier",
    "NewKey",
    "OwnerKind",
    "Principal",
    "Scope",
    "create_key",
    "get_key",
    "list_keys",
    "parse_scopes",
    "parse_token",
    "revoke_key",
]
