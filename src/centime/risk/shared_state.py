"""The velocity counters of the rules, shared by every API process through Redis.

The rules' velocity features (count and sum per payer, payee, device, IP and instrument in
the five :data:`~centime.risk.windows.STANDARD_WINDOWS`) are what a second process must see
for a velocity rule to hold across processes. :class:`RedisVelocity` keeps them in Redis:
one hash per (family, key), a field per window and bucket (``<window>:<bucket>`` counts,
``<window>:<bucket>s`` sums). The sums are integers in millionths of the asset's major unit
(``micro_units``: exact for the fiat assets' scale 6, finer digits cut), so that what every
process adds is exact and the same in any order: a float sum in Redis would round
differently depending on which process added first. Per batch of events:

- :meth:`~RedisVelocity.load`: one script call (one round trip) reads the hashes of every key
  the batch touches;
- the batch is screened in order against that snapshot, each event counted in it as it goes
  (so the batch's own events see each other, as in process);
- :meth:`~RedisVelocity.store`: one script call adds the batch's increments atomically
  (HINCRBY: another process's increments in between are never lost), drops
  the buckets every window has left behind and sets each hash to expire a day after its
  longest window.

Window arithmetic is :mod:`centime.risk.windows`'s: a window of ``n`` buckets counts the
buckets ``(now_bucket - n, now_bucket]``. One difference from the in-process rings: an event
older than the newest bucket counts in its own bucket (Redis keeps buckets by index, not in
a ring), so a late event is counted where it belongs. Everything else the engine knows (the
account, graph and decline features, the model's field features) stays in process:
docs/scaling.md says what is shared and what is not.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Final, Protocol

from centime.redis_lua import LuaScript
from centime.risk.types import RiskEvent
from centime.risk.windows import STANDARD_WINDOWS, WindowSpec

if TYPE_CHECKING:
    import redis

__all__ = ["FAMILIES", "RedisVelocity", "Velocity", "event_keys", "micro_units", "window_totals"]

FAMILIES: Final = ("payer", "payee", "device", "ip", "instrument")
KEY_LEN_MAX: Final = 256  # an id longer than this is cut (the keys are bounded in Redis too)
EXPIRY_SLACK_NS: Final = 86_400 * 1_000_000_000
MICRO_PER_UNIT: Final = 1_000_000  # the sums' unit: a millionth of the asset's major unit
# Redis keeps a hash field as a signed 64-bit integer: an event adds at most this much, and a
# sum that would pass it stays where it was (a window that has summed this much reads as a
# lot either way; its count goes on).
SUM_MAX: Final = 2**63 - 1
FIELD_NAMES_MAX: Final = 100_000  # field names parsed and kept (parse_fields)

# Per window: bucket index -> [count, sum in micro-units].
Buckets = list[dict[int, list[int]]]


class Velocity(Protocol):
    """Where the velocity counters live while a batch is screened (see the module)."""

    def load(self, events: Sequence[RiskEvent]) -> None: ...

    def read_into(self, out: list[float], family: str, key: str, now_ns: int) -> None: ...

    def add(self, family: str, key: str, now_ns: int, amount: int, scale: int) -> None: ...

    def store(self) -> None: ...


def event_keys(event: RiskEvent) -> Iterable[tuple[str, str]]:
    """The (family, key) pairs whose counters ``event`` reads and counts in."""
    keys = (event.payer, event.payee, event.device, event.ip, event.instrument)
    for family, key in zip(FAMILIES, keys, strict=True):
        if key:
            yield family, key[:KEY_LEN_MAX]


def micro_units(amount: int, scale: int) -> int:
    """``amount`` (in an asset's scale) in millionths of its major unit, digits finer than
    that cut, at most SUM_MAX (pure, integers only)."""
    factor: int = 10 ** abs(6 - scale)
    micro = amount * factor if scale <= 6 else amount // factor
    return min(micro, SUM_MAX)


def window_totals(
    buckets: Buckets, specs: tuple[WindowSpec, ...], now_ns: int
) -> list[tuple[int, int]]:
    """(count, sum in micro-units) of every window as of ``now_ns`` (pure): the buckets in
    ``(now_bucket - n, now_bucket]``."""
    totals = []
    for spec, window in zip(specs, buckets, strict=True):
        newest = now_ns // spec.width_ns
        count, total = 0, 0
        for bucket, (n, s) in window.items():
            if newest - spec.buckets < bucket <= newest:
                count += n
                total += s
        totals.append((count, total))
    return totals


def field_of(name: bytes, windows: int) -> tuple[int, int, int] | None:
    """What a hash field holds (pure): (window, bucket, 0 for the count or 1 for the sum),
    or None for a field of no known window."""
    text = name.decode(errors="replace")
    slot = 1 if text.endswith("s") else 0
    window, _, bucket = text[: len(text) - slot].partition(":")
    if not (window.isdigit() and int(window) < windows and bucket.lstrip("-").isdigit()):
        return None
    return int(window), int(bucket), slot


def parse_fields(
    flat: Sequence[bytes], windows: int, names: dict[bytes, tuple[int, int, int] | None]
) -> Buckets:
    """The buckets of one hash from HGETALL's flat field, value list (pure but for
    ``names``, the fields already parsed: a batch's hashes share their field names, the
    windows' recent buckets, so a name is parsed once)."""
    buckets: Buckets = [{} for _ in range(windows)]
    values = iter(flat)
    for name, value in zip(values, values, strict=True):
        if name in names:
            known = names[name]
        else:
            known = names[name] = field_of(name, windows)
        if known is None:
            continue
        window, bucket, slot = known
        cell = buckets[window].get(bucket)
        if cell is None:
            cell = buckets[window][bucket] = [0, 0]
        cell[slot] = int(value)
    return buckets


class RedisVelocity:
    """The counters in Redis under ``prefix`` (see the module). Not thread-safe: the engine
    loads, screens and stores a batch under its lock."""

    def __init__(
        self,
        client: redis.Redis,
        prefix: str = "centime:risk:",
        specs: tuple[WindowSpec, ...] = STANDARD_WINDOWS,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._specs = specs
        self._ttl_ms = (max(s.span_ns for s in specs) + EXPIRY_SLACK_NS) // 1_000_000
        self._loaded: dict[tuple[str, str], Buckets] = {}
        self._pending: dict[tuple[str, str], dict[str, int]] = {}
        self._slots_ns = -1
        self._slots_of_ns: list[tuple[int, int, str, str]] = []
        self._windows = len(specs)
        self._names: dict[bytes, tuple[int, int, int] | None] = {}
        # One script call per batch each way: a pipeline of the same commands cost about a
        # millisecond of this process's CPU per screened event (five keys, sixty commands
        # packed and parsed one by one by redis-py), more than the rest of a payment
        # (centime.redis_lua: a call's cost).
        self._read = LuaScript(client, _READ_LUA)
        self._write = LuaScript(client, _WRITE_LUA)

    @classmethod
    def from_url(cls, url: str, prefix: str = "centime:risk:") -> RedisVelocity:
        import redis

        return cls(redis.Redis.from_url(url, socket_timeout=2.0), prefix)

    def _name(self, family: str, key: str) -> str:
        return f"{self._prefix}v:{family}:{key}"

    def load(self, events: Sequence[RiskEvent]) -> None:
        """Read the counters of every key ``events`` touch: one script call."""
        self._loaded.clear()
        self._pending.clear()
        wanted = list(dict.fromkeys(k for event in events for k in event_keys(event)))
        if not wanted:
            return
        names = [self._name(family, key) for family, key in wanted]
        if len(self._names) > FIELD_NAMES_MAX:  # old buckets' names: start again
            self._names.clear()
        for pair, rows in zip(wanted, self._read(keys=names), strict=True):
            self._loaded[pair] = parse_fields(rows, self._windows, self._names)

    def read_into(self, out: list[float], family: str, key: str, now_ns: int) -> None:
        """Append count, sum of every window of (``family``, ``key``) as of ``now_ns``."""
        buckets = self._loaded.get((family, key[:KEY_LEN_MAX]))
        if buckets is None:
            out += (0.0, 0.0) * len(self._specs)
            return
        for count, total in window_totals(buckets, self._specs, now_ns):
            out += (float(count), total / MICRO_PER_UNIT)  # a feature, in major units

    def add(self, family: str, key: str, now_ns: int, amount: int, scale: int) -> None:
        """Count one event of ``amount`` (in an asset of ``scale``) at ``now_ns``, in the
        snapshot and for :meth:`store`."""
        value = micro_units(amount, scale)
        pair = (family, key[:KEY_LEN_MAX])
        buckets = self._loaded.get(pair)
        if buckets is None:
            buckets = self._loaded[pair] = [{} for _ in self._specs]
        pending = self._pending.get(pair)
        if pending is None:
            pending = self._pending[pair] = {}
        for i, bucket, field, sum_field in self._slots(now_ns):
            slot = buckets[i].get(bucket)
            if slot is None:
                slot = buckets[i][bucket] = [0, 0]
            slot[0] += 1
            slot[1] = min(slot[1] + value, SUM_MAX)
            pending[field] = pending.get(field, 0) + 1
            pending[sum_field] = min(pending.get(sum_field, 0) + value, SUM_MAX)

    def _slots(self, now_ns: int) -> list[tuple[int, int, str, str]]:
        """Per window: its index, the bucket of ``now_ns`` and that bucket's two field
        names; kept for the last ``now_ns`` (a batch's events share their time: its
        tens of thousands of adds would otherwise format the same names again)."""
        if now_ns != self._slots_ns:
            slots = []
            for i, spec in enumerate(self._specs):
                bucket = now_ns // spec.width_ns
                slots.append((i, bucket, f"{i}:{bucket}", f"{i}:{bucket}s"))
            self._slots_ns, self._slots_of_ns = now_ns, slots
        return self._slots_of_ns

    def store(self) -> None:
        """Write the batch's increments, prune and expire: one script call."""
        if not self._pending:
            return
        names: list[str] = []
        args: list[str | int] = [self._ttl_ms]
        for pair, fields in self._pending.items():
            names.append(self._name(*pair))
            args.append(" ".join(f"{field} {delta}" for field, delta in fields.items()))
            args.append(" ".join(self._stale_fields(self._loaded[pair])))
        self._pending.clear()
        self._write(keys=names, args=args)

    def _stale_fields(self, buckets: Buckets) -> list[str]:
        """The fields of buckets every window has left behind, by the newest bucket seen."""
        stale: list[str] = []
        for i, (spec, window) in enumerate(zip(self._specs, buckets, strict=True)):
            if not window:
                continue
            newest = max(window)
            for bucket in window:
                if bucket <= newest - spec.buckets:
                    stale += (f"{i}:{bucket}", f"{i}:{bucket}s")
        return stale


# Every hash of KEYS as HGETALL answers it (field, value, field, value...). Parsing the
# names in Lua cost the server 0.8 us a field; here a batch's names are parsed once
# (parse_fields).
_READ_LUA: Final = """
local out = {}
for i, key in ipairs(KEYS) do out[i] = redis.call('HGETALL', key) end
return out
"""

# ARGV: the expiry in ms, then per key of KEYS two texts: its increments ("field delta
# field delta ...") and its stale fields ("field field ..."); fields and deltas never hold a
# space. One argument per text, not per field: redis-py spends microseconds on each argument,
# and an event brings a hundred. An increment Redis refuses
# because it would pass a signed 64-bit integer leaves its field where it was (SUM_MAX's
# comment); any other refusal (a key holding another type) is answered as an error after
# the rest is written, as the pipeline before it did. Atomic as one script: no other client
# sees half of it.
_WRITE_LUA: Final = """
local failed = nil
for i, key in ipairs(KEYS) do
  for field, delta in string.gmatch(ARGV[2 * i], '(%S+) (%S+)') do
    local r = redis.pcall('HINCRBY', key, field, delta)
    if type(r) == 'table' and r.err and not string.find(r.err, 'overflow') then failed = r end
  end
  for field in string.gmatch(ARGV[2 * i + 1], '%S+') do
    local r = redis.pcall('HDEL', key, field)
    if type(r) == 'table' and r.err then failed = r end
  end
  redis.call('PEXPIRE', key, ARGV[1])
end
if failed then return failed end
return 0
"""
