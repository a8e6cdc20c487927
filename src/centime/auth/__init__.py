"""Who a request is: API keys (merchants' and the operator's), their scopes and revocation."""

from . import keys

# The package's face is the keys module's: its __all__ says which names (one list, not two
# kept in step by hand; as centime.wire re-exports its resources).
from .keys import *  # noqa: F403

__all__ = list(keys.__all__)
