"""Events: the outbox of business events, webhooks (targets, secrets, deliveries) and notices
sent to parties."""

from .notices import Change, credential_changed, remember_language
from .outbox import SUBSCRIBABLE_TYPES
from .webhook_targets import (
    Forbidden,
    Resolver,
    TargetPolicy,
    install_target_policy,
    policy_from_env,
    resolve_target,
    system_resolver,
    target_policy,
)
from .webhooks import (
    ENDPOINT_COLUMNS,
    NS_PER_S,
    Attempt,
    Endpoint,
    NewSecret,
    SecretBox,
    create_endpoint,
    endpoint_row,
    install_secret_box,
    secret_box,
    secret_box_from_env,
    secret_key,
    subscribed,
)

__all__ = [
    "ENDPOINT_COLUMNS",
    "NS_PER_S",
    "SUBSCRIBABLE_TYPES",
    "Attempt",
    "Change",
    "Endpoint",
    "Forbidden",
    "NewSecret",
    "Resolver",
    "SecretBox",
    "TargetPolicy",
    "create_endpoint",
    "credential_changed",
    "endpoint_row",
    "install_secret_box",
    "install_target_policy",
    "policy_from_env",
    "remember_language",
    "resolve_target",
    "secret_box",
    "secret_box_from_env",
    "secret_key",
    "subscribed",
    "system_resolver",
    "target_policy",
]
