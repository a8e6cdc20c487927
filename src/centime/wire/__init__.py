"""What travels on the wire: msgspec Structs for every request and response body, and the
conversions between wire text and the platform's values.

Rules, the same for every resource:

- Request bodies refuse unknown fields and wrong types, strictly (a number where text is
  expected is an error, and so is text where a number is expected), naming the field.
- Money is ``{"value": "125", "asset": "USD", "scale": 6}``: ``value`` is an integer
  string in the asset's smallest unit (a JSON number is refused: JSON parsers turn large
  numbers into floats), and ``scale`` must be the asset's own, so that a client that thinks
  USD has scale 2 is refused instead of paying a million times too much.
- Ids are prefixed strings (``cus_...``, ``mer_...``, ``key_...``). An id in a URL that
  does not parse names nothing: 404. An id in a body that does not parse is a bad request:
  400 naming the field.
- Times are RFC 3339 UTC strings with nanoseconds (``2027-01-15T08:00:00.123456789Z``),
  one form everywhere: exact, sortable as text, and safe for JavaScript clients (an integer
  of nanoseconds is above 2^53 and would lose its last digits there).
- Response bodies accept unknown fields when the client decodes them, so that a server
  that adds a field does not break an older client.

One module per resource (``centime.wire.payments``, ``centime.wire.payouts``...), all of them
re-exported here. This package imports no web framework and no server module, only msgspec,
``centime.money`` and ``centime.limits``: the client (``centime.client``) uses it too.
"""

from __future__ import annotations

from typing import Final

from msgspec import UNSET, UnsetType

from . import (
    common,
    holds,
    keys,
    parties,
    payments,
    payouts,
    pricing,
    reports,
    risk,
    topups,
    transfers,
    webhooks,
)

# The package re-exports every resource's names (each module's __all__ says which).
from .common import *  # noqa: F403
from .holds import *  # noqa: F403
from .keys import *  # noqa: F403
from .parties import *  # noqa: F403
from .payments import *  # noqa: F403
from .payouts import *  # noqa: F403
from .pricing import *  # noqa: F403
from .reports import *  # noqa: F403
from .risk import *  # noqa: F403
from .topups import *  # noqa: F403
from .transfers import *  # noqa: F403
from .webhooks import *  # noqa: F403

# The package re-exports every resource's names (each module's __all__ says which), in
# this order.
_RESOURCES: Final = (
    common,
    parties,
    keys,
    payments,
    holds,
    transfers,
    topups,
    risk,
    webhooks,
    reports,
    payouts,
    pricing,
)
__all__ = ["UNSET", "UnsetType"]
for _resource in _RESOURCES:
    __all__ += _resource.__all__
del _resource
