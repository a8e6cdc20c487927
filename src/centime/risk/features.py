"""Online features: computed for an event from what was known before it, then updated by it.

``OnlineFeatures.process(event)`` returns the event's feature row (a numpy float64 vector in
the order of :data:`FEATURE_NAMES`) and only then lets the event count, so a decision never
sees its own event. Everything is incremental and bounded by design: per family (accounts,
velocity windows, devices, IPs, instruments) ``exact_keys`` keys kept exactly, the keys beyond
sharing a fixed table of states (centime.risk.sketch.BoundedMap; pairs and (payer, thing)
uses: PairCounts), nothing evicted; windows store their non-empty buckets
(centime.risk.windows; as C arrays, centime.risk._cstate, when built); counterparty sets
are capped; the shared-thing graph keeps a bounded number of links.
:meth:`OnlineFeatures.row` computes a row lazily, family by family, as the rules read it.

The classes here are the reference. With the C extension built and the velocity counters in
process, the whole state (maps, windows, pairs and sketch, counterparties, graphs) and the
lazy row run as one C object, ``centime.risk._cstate.RulesState`` (``OnlineFeatures.native``):
the same operations in the same order, the same rows bit for bit
(tests/risk/test_cstate_rules.py).

Amounts stay integers in events; features are floats in the asset's major unit
(float(amount) / 10**scale; an asset the platform does not know counts at scale 0), which is
what a model and a threshold compare. Not thread-safe: the engine calls it under its lock.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final, Protocol

import numpy as np
import numpy.typing as npt

from centime.limits import (
    RISK_KEYS_EXACT_MAX,
    RISK_PAIRS_EXACT_MAX,
    RISK_SHARED_SLOTS,
    RISK_SKETCH_WIDTH,
)
from centime.money import ASSETS
from centime.risk.graph import Components
from centime.risk.native import state_module
from centime.risk.shared_state import FAMILIES, Velocity, event_keys
from centime.risk.sketch import BoundedMap, CountMin, PairCounts
from centime.risk.types import EVENT_TYPES, RiskEvent
from centime.risk.windows import (
    NS_PER_S,
    STANDARD_WINDOWS,
    Windows,
    WindowSet,
    WindowsFactory,
    WindowSpec,
    window_spec,
)

__all__ = [
    "FEATURE_COST",
    "FEATURE_INDEX",
    "FEATURE_NAMES",
    "FeatureConfig",
    "LazyRow",
    "OnlineFeatures",
    "PyLazyRow",
    "Row",
]

Row = npt.NDArray[np.float64]

NS_PER_H: Final = 3_600 * NS_PER_S
NS_PER_DAY: Final = 24 * NS_PER_H

TYPE_IDS: Final = {name: float(i) for i, name in enumerate(EVENT_TYPES)}
TOPUPS: Final = frozenset({"topup", "topup_carrier"})
OUTFLOWS: Final = frozenset({"payment", "transfer", "payout", "payout_instant"})
INFLOWS_TO_PAYEE: Final = frozenset({"payment", "transfer"})
PAYOUTS: Final = frozenset({"payout", "payout_instant", "payout_method_change"})

FLOW_WINDOWS: Final = (window_spec("15m", 900, 15),)
DECLINE_WINDOWS: Final = (window_spec("1h", 3_600, 12), window_spec("24h", 86_400, 24))
DAY_WEEK_WINDOWS: Final = (window_spec("24h", 86_400, 24), window_spec("7d", 7 * 86_400, 28))
MONTH_WINDOW: Final = (window_spec("30d", 30 * 86_400, 30),)
WEEK_WINDOW: Final = (window_spec("7d", 7 * 86_400, 28),)
DAY_WINDOW: Final = (window_spec("24h", 86_400, 24),)

_ZEROS_5: Final = (0.0,) * 10  # count and sum of five windows, for a key never seen
_WEEK_INDEX: Final = 3  # the 7d window in STANDARD_WINDOWS
FAN_CAP: Final = 64  # distinct counterparties remembered per account (the count saturates)
SKETCH_WIDTH_MAX: Final = 2**32  # the C state refuses wider sketches (and so does this)
UPSTREAM_CAP: Final = 16  # accounts whose money reached this one, for cycles
THING_ACCOUNTS_CAP: Final = 64


def _names() -> tuple[str, ...]:
    names = ["type", "amount", "hour_utc", "amount_round", "amount_near_limit"]
    for family in ("payer", "payee", "device", "ip", "instrument"):
        for spec in STANDARD_WINDOWS:
            names += [f"{family}_n_{spec.name}", f"{family}_sum_{spec.name}"]
    names += [
        "payer_age_h",
        "payee_age_h",
        "pair_first",
        "pair_n",
        "pair_reverse",
        "payer_device_new",
        "payer_ip_new",
        "payer_instrument_new",
        "payer_balance",
        "drain_ratio",
        "payer_in_15m",
        "payer_out_15m",
        "pass_through",
        "payer_fan_out",
        "payer_fan_out_24h",
        "payer_fan_in_24h",
        "payee_fan_in",
        "payee_fan_in_24h",
        "payee_fan_out_24h",
        "payer_declines_1h",
        "payer_declines_24h",
        "instrument_declines_1h",
        "instrument_declines_24h",
        "device_declines_24h",
        "payer_carrier_30d",
        "payer_carrier_ratio",
        "payee_carrier_in_7d",
        "payee_carrier_in_share",
        "payer_near_limit_24h",
        "payer_near_limit_7d",
        "payer_round_24h",
        "payer_component",
        "payer_component_inflow",
        "payee_component",
        "payee_component_inflow",
        "device_accounts",
        "instrument_accounts",
        "payer_referral_cluster",
        "payee_referral_cluster",
        "payee_referrals_24h",
        "payee_referrals_7d",
        "cycle",
        "payout_method_age_h",
    ]
    return tuple(names)


FEATURE_NAMES: Final = _names()
FEATURE_INDEX: Final = {name: i for i, name in enumerate(FEATURE_NAMES)}

# The row's families, in row order: what one call computes when a rule reads one of them.
# Base (type, amount, hour, roundness, near a limit); the velocity of the payer, payee,
# device, IP and instrument (count and sum per window); accounts (ages, pairs, new things;
# flows and counterparties); things (declines; carrier; carrier-funded inflow; structuring);
# graph. The shipped rules read a few features of most events: small families pay.
_GROUP_SIZES: Final = (5, 10, 10, 10, 10, 10, 8, 11, 5, 2, 2, 3, 12)
_GROUP_STARTS: Final = tuple(sum(_GROUP_SIZES[:g]) for g in range(len(_GROUP_SIZES)))
_GROUP_OF: Final = tuple(g for g, size in enumerate(_GROUP_SIZES) for _ in range(size))
if len(_GROUP_OF) != len(FEATURE_NAMES):  # a feature added without its group
    raise RuntimeError("features: _GROUP_SIZES no longer covers FEATURE_NAMES")
# What reading a feature costs a lazy row, by its family (rules._plan reads the cheap first):
# base little (nearly every event computes it for the structuring rule), the account flows
# and the graph the most, the rest in between (docs/risk.md, "Speed"). An event field is 0.
_GROUP_COSTS: Final = (1, 2, 2, 2, 2, 2, 2, 3, 2, 2, 2, 2, 3)
if len(_GROUP_COSTS) != len(_GROUP_SIZES):  # a family added without its cost
    raise RuntimeError("features: _GROUP_COSTS no longer covers _GROUP_SIZES")
FEATURE_COST: Final = tuple(_GROUP_COSTS[g] for g in _GROUP_OF)


def _default_limits() -> dict[str, str]:
    # One movement's ceiling per type, major units: amounts just below are structuring signs.
    return {
        "topup": "100",
        "topup_carrier": "50",
        "transfer": "250",
        "payout": "1000",
        "payout_instant": "1000",
        "payment": "500",
    }


@dataclass(frozen=True, slots=True)
class FeatureConfig:
    exact_keys: int = RISK_KEYS_EXACT_MAX  # per family; beyond, shared states (limits.py)
    exact_pairs: int = RISK_PAIRS_EXACT_MAX  # pairs, (payer, thing) uses; beyond, a sketch
    sketch_width: int = RISK_SKETCH_WIDTH
    max_graph_links: int = 200_000
    limits: Mapping[str, str] = field(default_factory=_default_limits)
    near_limit_share: float = 0.85  # amount in [share * limit, limit) is "just below"
    carrier_monthly_limit: str = "100"  # carrier billing's monthly ceiling, major units
    carrier_heavy_ratio: float = 0.5  # a payer past this share of it counts as carrier-funded
    # The rules' state (windows, maps, pairs: _cstate.RulesState) and the model's parties
    # (engine) in C when the extension is built (centime.risk.native.state_module) and the
    # velocity counters are in process; False: the Python classes (the same results).
    native_state: bool = True

    def __post_init__(self) -> None:
        if not 2 <= self.sketch_width <= SKETCH_WIDTH_MAX:
            raise ValueError(f"sketch_width must be in [2, 2**32], not {self.sketch_width}")


class LazyRow(Protocol):
    """What the rules read of a row whose families are computed when first read: a
    :class:`PyLazyRow`, or the C state's row (the same values)."""

    def __getitem__(self, index: int) -> float: ...
    def all(self) -> list[float]: ...


# The families of RulesState (the C state's maps), by the name of the Python one.
_C_FAMILIES: Final = {
    "accounts": 0,
    "payer": 1,
    "payee": 2,
    "device": 3,
    "ip": 4,
    "instrument": 5,
}
_TYPE_FLAGS: Final = (
    (TOPUPS, 1),
    (OUTFLOWS, 2),
    (INFLOWS_TO_PAYEE, 4),
    (PAYOUTS, 8),
    (frozenset({"topup_declined"}), 16),
    (frozenset({"topup_carrier"}), 32),
    (frozenset({"signup"}), 64),
    (frozenset({"payout_method_change"}), 128),
)


def _type_codes() -> dict[str, int]:
    """Per event type: its flags (_TYPE_FLAGS) and its TYPE_IDS id + 1 above them."""
    codes: dict[str, int] = {}
    for i, name in enumerate(EVENT_TYPES):
        flags = sum(bit for kinds, bit in _TYPE_FLAGS if name in kinds)
        codes[name] = flags | (i + 1) << 8
    return codes


def _asset_scale(asset: str) -> int:
    known = ASSETS.get(asset)
    return known.scale if known else 0


class _Account:
    __slots__ = (
        "balance",
        "carrier",
        "carrier_in",
        "declines",
        "fan_in",
        "fan_out",
        "first_seen_ns",
        "flow_in",
        "flow_out",
        "method_change_ns",
        "near_limit",
        "referrals",
        "round",
        "upstream",
    )

    def __init__(self) -> None:
        self.first_seen_ns = -1
        self.balance = 0.0
        # Created on first use (most accounts never need some of them: memory per account).
        self.flow_in: Windows | None = None
        self.flow_out: Windows | None = None
        self.fan_in: dict[str, int] = _NONE  # replaced by its own dict on the first write
        self.fan_out: dict[str, int] = _NONE
        self.upstream: dict[str, int] = _NONE
        self.declines: Windows | None = None
        self.carrier: Windows | None = None
        self.carrier_in: Windows | None = None
        self.near_limit: Windows | None = None
        self.round: Windows | None = None
        self.referrals: Windows | None = None
        self.method_change_ns = -1


class _Thing:
    """A device, IP or instrument: its windows, declines and the accounts that used it."""

    __slots__ = ("accounts", "declines", "windows")

    def __init__(self, make: WindowsFactory) -> None:
        self.windows: Windows = make(STANDARD_WINDOWS)
        self.declines: Windows | None = None
        self.accounts: dict[str, None] = {}


def windows_factory(native: bool) -> WindowsFactory:
    """The C windows when ``native`` and built (centime.risk.native), else :class:`WindowSet`."""
    module = state_module() if native else None
    if module is None:
        return WindowSet
    made: WindowsFactory = module.WindowSet
    return made


# The empty counterparty map every account starts with (never written: ``_touch`` gives an
# account its own dict on its first write), so an account that never pays or is paid costs
# no dicts: most of the memory of a party seen once.
_NONE: dict[str, int] = {}


def _touch(capped: dict[str, int], key: str, now_ns: int, cap: int) -> dict[str, int]:
    """``capped`` (or a new dict if it is the shared empty one) with ``key`` touched now."""
    if capped is _NONE:
        capped = {}
    capped.pop(key, None)
    capped[key] = now_ns
    if len(capped) > cap:
        del capped[next(iter(capped))]
    return capped


def _recent(capped: dict[str, int], since_ns: int) -> int:
    """Entries touched since ``since_ns``: they are the newest, at the dict's end."""
    n = 0
    for t in reversed(capped.values()):
        if t < since_ns:
            break
        n += 1
    return n


def _read(windows: Windows | None, now_ns: int, size: int) -> tuple[list[int], list[float]]:
    if windows is None:
        return [0] * size, [0.0] * size
    return windows.read(now_ns)


def _add(
    make: WindowsFactory,
    windows: Windows | None,
    specs: tuple[WindowSpec, ...],
    now_ns: int,
    value: float,
) -> Windows:
    if windows is None:
        windows = make(specs)
    windows.add(now_ns, value)
    return windows


class OnlineFeatures:
    def __init__(
        self, config: FeatureConfig | None = None, velocity: Velocity | None = None
    ) -> None:
        self.config = config or FeatureConfig()
        # The velocity counters shared by every process (centime.risk.shared_state); None:
        # in this process (payer_windows, payee_windows and the things' windows).
        self.velocity = velocity
        n = self.config.exact_keys
        make = self._make = windows_factory(self.config.native_state)

        def standard_windows() -> Windows:
            return make(STANDARD_WINDOWS)

        def thing() -> _Thing:
            return _Thing(make)

        self.accounts: BoundedMap[_Account] = BoundedMap(_Account, n)
        self.payer_windows: BoundedMap[Windows] = BoundedMap(standard_windows, n)
        self.payee_windows: BoundedMap[Windows] = BoundedMap(standard_windows, n)
        self.devices: BoundedMap[_Thing] = BoundedMap(thing, n)
        self.ips: BoundedMap[_Thing] = BoundedMap(thing, n)
        self.instruments: BoundedMap[_Thing] = BoundedMap(thing, n)
        # Exact up to a limit, then a sketch: never evicted; (payer, thing) uses alike.
        self.pairs = PairCounts(self.config.exact_pairs, self.config.sketch_width)
        self.seen = PairCounts(self.config.exact_pairs, self.config.sketch_width)
        self.shared = Components(self.config.max_graph_links)
        self.referrals = Components(self.config.max_graph_links)
        self._scales: dict[str, int] = {}
        self._limits: dict[tuple[str, str], float] = {}
        self._carrier_limit: dict[str, float] = {}
        # Everything above but the graphs, in C (same rows, bit for bit), when it is built.
        # With shared counters too: the C state then counts velocity in process, unread
        # (SharedRow reads those families from the shared counters), which costs less than
        # the Python classes' whole row (half the CPU of a screened payment, 2026-12-08).
        self.native: Any = None
        if self.config.native_state and state_module() is not None:
            self.native = self._native_state()

    def _native_state(self) -> Any:
        cfg = self.config
        limits = {kind: float(Decimal(text)) for kind, text in cfg.limits.items()}
        module = state_module()
        if module is None:  # the caller checked; an explicit raise survives python -O
            raise RuntimeError("features: the C risk state is not built")
        return module.RulesState(
            exact_keys=cfg.exact_keys,
            slots=RISK_SHARED_SLOTS,
            pairs_exact_max=cfg.exact_pairs,
            sketch_width=cfg.sketch_width,
            multipliers=CountMin.multipliers(),
            specs=(
                STANDARD_WINDOWS,
                FLOW_WINDOWS,
                DECLINE_WINDOWS,
                DAY_WEEK_WINDOWS,
                MONTH_WINDOW,
                WEEK_WINDOW,
                DAY_WINDOW,
            ),
            types=_type_codes(),
            limits=limits,
            scale_of=_asset_scale,
            near_share=cfg.near_limit_share,
            carrier_monthly=float(Decimal(cfg.carrier_monthly_limit)),
            heavy_ratio=cfg.carrier_heavy_ratio,
            max_graph_links=cfg.max_graph_links,
        )

    # -- what the state holds (tests, memory) ------------------------------------------------
    def velocity_windows(self, family: str, key: str) -> Windows | None:
        """The in-process velocity windows of ``key`` in ``family`` (payer, payee, device,
        ip, instrument), or None."""
        if self.native is not None:
            found: Windows | None = self.native.windows(_C_FAMILIES[family], key)
            return found
        index = ("payer", "payee", "device", "ip", "instrument").index(family)
        return self._local_windows(index, key)

    def velocity_keys(self, family: str) -> list[str]:
        """The keys of ``family`` (payer or payee) held exactly."""
        if self.native is not None:
            keys: list[str] = self.native.keys(_C_FAMILIES[family])
            return keys
        return list(self.payer_windows if family == "payer" else self.payee_windows)

    def exact_sizes(self) -> dict[str, int]:
        """Keys held exactly per family (accounts, payer, payee, device, ip, instrument),
        the pairs and (payer, thing) uses held exactly, the shared-thing graph's links."""
        if self.native is not None:
            sizes = self.native.sizes()
            return dict(zip([*_C_FAMILIES, "pairs", "seen", "links"], sizes, strict=True))
        maps = (self.accounts, self.payer_windows, self.payee_windows)
        things = (self.devices, self.ips, self.instruments)
        counts = [len(m) for m in maps] + [len(m) for m in things]
        counts += [len(self.pairs), len(self.seen), len(self.shared)]
        return dict(zip([*_C_FAMILIES, "pairs", "seen", "links"], counts, strict=True))

    def holds_account(self, key: str) -> bool:
        """Whether ``key`` has an account state (held exactly or sharing one)."""
        if self.native is not None:
            return bool(self.native.contains(0, key))
        return key in self.accounts

    # -- units ------------------------------------------------------------------------------
    def _scale(self, asset: str) -> int:
        scale = self._scales.get(asset)
        if scale is None:
            known = ASSETS.get(asset)
            scale = self._scales[asset] = known.scale if known else 0
        return scale

    def _major(self, amount: int, asset: str) -> float:
        # float(amount) / divisor, not amount / divisor: compiled by mypyc, int / int is two
        # doubles divided below 2**62 and exact above, Python's exact everywhere; this is
        # the same compiled, as Python and in C (_cstate.RulesState), bit for bit.
        divisor: int = 10 ** self._scale(asset)
        return float(amount) / divisor

    def _limit(self, kind: str, asset: str) -> float:
        key = (kind, asset)
        limit = self._limits.get(key)
        if limit is None:
            text = self.config.limits.get(kind)
            limit = math.inf if text is None else float(Decimal(text))
            self._limits[key] = limit
        return limit

    # -- the one entry point ----------------------------------------------------------------
    def process(self, event: RiskEvent) -> Row:
        """The feature row of ``event`` as of just before it; then ``event`` counts."""
        row = self.compute(event)
        self.update(event)
        return row

    def compute(self, event: RiskEvent) -> Row:
        """The whole row of ``event`` as of just before it (every family)."""
        return np.array(self.row(event).all(), dtype=np.float64)

    def row(self, event: RiskEvent) -> LazyRow:
        """The row of ``event`` as of just before it, each family computed when first read
        (a rule reads a handful of the row's 98 features): read it before ``update``."""
        if self.native is not None:
            row: LazyRow = self.native.row(event)
            return row if self.velocity is None else SharedRow(self, event, row)
        return PyLazyRow(self, event)

    def _group(self, event: RiskEvent, group: int) -> list[float]:
        """Family ``group`` of the row of ``event`` (``_GROUP_SIZES``)."""
        now = event.timestamp_ns
        if group == 0:
            return self._base(event, now)
        if group <= 5:
            return self._velocity(event, now, group - 1)
        if group == 10:
            return self._carrier_in(event, now)
        payer = self.accounts.get(event.payer)
        if group == 8:
            return self._declines(event, now, payer)
        if group == 9:
            return self._carrier(event, now, payer)
        if group == 11:
            return self._structuring(now, payer)
        payee = self.accounts.get(event.payee) if event.payee else None
        if group == 6:
            return self._account_basics(event, now, payer, payee)
        if group == 7:
            amount = self._major(event.amount, event.asset)
            return self._account_flows(event, now, amount, payer, payee)
        return self._graph_features(event, now, payer, payee)

    def _base(self, event: RiskEvent, now: int) -> list[float]:
        cfg = self.config
        amount = self._major(event.amount, event.asset)
        limit = self._limit(event.type, event.asset)
        near = 1.0 if cfg.near_limit_share * limit <= amount < limit else 0.0
        return [
            TYPE_IDS.get(event.type, -1.0),
            amount,
            float((now // NS_PER_H) % 24),
            _roundness(event.amount, self._scale(event.asset)),
            near,
        ]

    def _velocity(self, event: RiskEvent, now: int, family: int) -> list[float]:
        """Count and sum per window of one of the payer, payee, device, IP, instrument."""
        key = (event.payer, event.payee, event.device, event.ip, event.instrument)[family]
        out: list[float] = []
        if not key:
            out += _ZEROS_5
        elif self.velocity is not None:  # the shared counters, loaded for the batch
            self.velocity.read_into(out, FAMILIES[family], key, now)
        else:
            windows = self._local_windows(family, key)
            if windows is None:
                out += _ZEROS_5
            else:
                windows.read_into(out, now)
        return out

    def _local_windows(self, family: int, key: str) -> Windows | None:
        if family == 0:
            return self.payer_windows.get(key)
        if family == 1:
            return self.payee_windows.get(key)
        thing = (self.devices, self.ips, self.instruments)[family - 2].get(key)
        return thing.windows if thing is not None else None

    def _payee_count_7d(self, event: RiskEvent, now: int) -> float:
        if not event.payee:
            return 0.0
        if self.velocity is not None:
            shared: list[float] = []
            self.velocity.read_into(shared, "payee", event.payee, now)
            return shared[2 * _WEEK_INDEX]
        payee_ws = self.payee_windows.get(event.payee)
        return float(payee_ws.read(now)[0][_WEEK_INDEX]) if payee_ws else 0.0

    # -- a batch against the shared counters (no-ops in process) -------------------------------
    def load(self, events: Sequence[RiskEvent]) -> None:
        """Before a batch is computed: read the shared counters it needs (one round trip)."""
        if self.velocity is not None:
            self.velocity.load(events)

    def store(self) -> None:
        """After it: write what the batch counted to the shared counters (one round trip)."""
        if self.velocity is not None:
            self.velocity.store()

    def _account_basics(
        self, event: RiskEvent, now: int, payer: _Account | None, payee: _Account | None
    ) -> list[float]:
        """Ages, the pair, and whether the device, IP, instrument are new to the payer."""
        pair = self.pairs.get((event.payer, event.payee))
        reverse = self.pairs.get((event.payee, event.payer))

        def seen(kind: str, thing: str | None) -> float:
            if not thing:
                return 0.0
            return 0.0 if self.seen.get((event.payer, kind + thing)) else 1.0

        return [
            float(now - payer.first_seen_ns) / NS_PER_H if payer else 0.0,  # as _major
            float(now - payee.first_seen_ns) / NS_PER_H if payee else 0.0,
            0.0 if pair else 1.0,
            float(pair),
            1.0 if reverse else 0.0,
            seen("d:", event.device),
            seen("n:", event.ip),
            seen("i:", event.instrument),
        ]

    def _account_flows(
        self,
        event: RiskEvent,
        now: int,
        amount: float,
        payer: _Account | None,
        payee: _Account | None,
    ) -> list[float]:
        """Balance, drain, the 15-minute flows, and counterparties (fan-in, fan-out)."""
        balance = payer.balance if payer else 0.0
        outflow = event.type in OUTFLOWS
        drain = 0.0
        if outflow and amount > 0:
            drain = min(10.0, amount / balance) if balance > 0 else 10.0
        flow_in = _read(payer.flow_in if payer else None, now, 1)[1][0]
        flow_out = _read(payer.flow_out if payer else None, now, 1)[1][0]
        passed = flow_out + (amount if outflow else 0.0)
        pass_through = min(2.0, passed / flow_in) if flow_in > 0 else 0.0
        day_ago = now - NS_PER_DAY
        return [
            balance,
            drain,
            flow_in,
            flow_out,
            pass_through,
            float(len(payer.fan_out)) if payer else 0.0,
            float(_recent(payer.fan_out, day_ago)) if payer else 0.0,
            float(_recent(payer.fan_in, day_ago)) if payer else 0.0,
            float(len(payee.fan_in)) if payee else 0.0,
            float(_recent(payee.fan_in, day_ago)) if payee else 0.0,
            float(_recent(payee.fan_out, day_ago)) if payee else 0.0,
        ]

    def _declines(self, event: RiskEvent, now: int, payer: _Account | None) -> list[float]:
        declines = _read(payer.declines if payer else None, now, 2)[0]
        instrument = self.instruments.get(event.instrument) if event.instrument else None
        device = self.devices.get(event.device) if event.device else None
        instrument_declines = _read(instrument.declines if instrument else None, now, 2)[0]
        device_declines = _read(device.declines if device else None, now, 2)[0]
        return [
            float(declines[0]),
            float(declines[1]),
            float(instrument_declines[0]),
            float(instrument_declines[1]),
            float(device_declines[1]),
        ]

    def _carrier(self, event: RiskEvent, now: int, payer: _Account | None) -> list[float]:
        carrier = _read(payer.carrier if payer else None, now, 1)[1][0]
        return [carrier, carrier / self._carrier_monthly(event.asset)]

    def _carrier_in(self, event: RiskEvent, now: int) -> list[float]:
        payee = self.accounts.get(event.payee) if event.payee else None
        carrier_in = float(_read(payee.carrier_in if payee else None, now, 1)[0][0])
        payee_7d = self._payee_count_7d(event, now)
        return [carrier_in, carrier_in / payee_7d if payee_7d else 0.0]

    @staticmethod
    def _structuring(now: int, payer: _Account | None) -> list[float]:
        near = _read(payer.near_limit if payer else None, now, 2)[0]
        rounds = _read(payer.round if payer else None, now, 1)[0]
        return [float(near[0]), float(near[1]), float(rounds[0])]

    def _graph_features(
        self, event: RiskEvent, now: int, payer: _Account | None, payee: _Account | None
    ) -> list[float]:
        device = self.devices.get(event.device) if event.device else None
        instrument = self.instruments.get(event.instrument) if event.instrument else None
        referrals = _read(payee.referrals if payee else None, now, 2)[0]
        cycle = 0.0
        if payer and event.type in INFLOWS_TO_PAYEE and event.payee:
            since = payer.upstream.get(event.payee)
            cycle = 1.0 if since is not None and since >= now - NS_PER_DAY else 0.0
        method_age = -1.0
        if payer and payer.method_change_ns >= 0:
            method_age = float(now - payer.method_change_ns) / NS_PER_H
        return [
            float(self.shared.size(event.payer)),
            float(self.shared.inflow(event.payer)),
            float(self.shared.size(event.payee)) if event.payee else 0.0,
            float(self.shared.inflow(event.payee)) if event.payee else 0.0,
            float(len(device.accounts)) if device else 0.0,
            float(len(instrument.accounts)) if instrument else 0.0,
            float(self.referrals.size(event.payer)),
            float(self.referrals.size(event.payee)) if event.payee else 0.0,
            float(referrals[0]),
            float(referrals[1]),
            cycle,
            method_age,
        ]

    def _carrier_monthly(self, asset: str) -> float:
        limit = self._carrier_limit.get(asset)
        if limit is None:
            limit = float(Decimal(self.config.carrier_monthly_limit))
            self._carrier_limit[asset] = limit
        return limit

    # -- updates ------------------------------------------------------------------------------
    def update(self, event: RiskEvent) -> None:
        """Let ``event`` count (an outcome such as a decline too: ``observe`` is this)."""
        if self.native is not None:
            self.native.update(event)
            if self.velocity is not None:
                self._count_velocity(event, event.timestamp_ns, 0.0)  # the amount: unused
            return
        now = event.timestamp_ns
        amount = self._major(event.amount, event.asset)
        kind = event.type
        payer = self.accounts.get_or_create(event.payer)
        if payer.first_seen_ns < 0:
            payer.first_seen_ns = now
        self._count_velocity(event, now, amount)
        payee: _Account | None = None
        if event.payee:
            if event.payee != event.payer:
                payee = self.accounts.get_or_create(event.payee)
                if payee.first_seen_ns < 0:
                    payee.first_seen_ns = now
            self.pairs.add((event.payer, event.payee))
        self._update_things(event, now, amount)
        if kind == "topup_declined":
            payer.declines = _add(self._make, payer.declines, DECLINE_WINDOWS, now, amount)
            return
        self._update_money(event, now, amount, payer, payee)

    def _count_velocity(self, event: RiskEvent, now: int, amount: float) -> None:
        if self.velocity is not None:
            scale = self._scale(event.asset)  # integer sums in Redis: the amount as it is
            for family, key in event_keys(event):
                self.velocity.add(family, key, now, event.amount, scale)
            return
        self.payer_windows.get_or_create(event.payer).add(now, amount)
        if event.payee:
            self.payee_windows.get_or_create(event.payee).add(now, amount)

    def _update_things(self, event: RiskEvent, now: int, amount: float) -> None:
        declined = event.type == "topup_declined"
        payer = event.payer
        for things, key, prefix in (
            (self.devices, event.device, "d:"),
            (self.ips, event.ip, "n:"),
            (self.instruments, event.instrument, "i:"),
        ):
            if not key:
                continue
            thing = things.get_or_create(key)
            if self.velocity is None:  # else counted in the shared counters
                thing.windows.add(now, amount)
            if declined:
                thing.declines = _add(self._make, thing.declines, DECLINE_WINDOWS, now, amount)
            thing.accounts.pop(payer, None)
            thing.accounts[payer] = None
            if len(thing.accounts) > THING_ACCOUNTS_CAP:
                del thing.accounts[next(iter(thing.accounts))]
            tagged = prefix + key
            self.seen.add((payer, tagged))
            if prefix != "n:" and not declined:  # IPs are shared by whole networks (NAT)
                self.shared.link(payer, tagged)

    def _update_money(
        self, event: RiskEvent, now: int, amount: float, payer: _Account, payee: _Account | None
    ) -> None:
        kind = event.type
        cfg = self.config
        if kind in TOPUPS:
            payer.balance += amount
            payer.flow_in = _add(self._make, payer.flow_in, FLOW_WINDOWS, now, amount)
            if kind == "topup_carrier":
                payer.carrier = _add(self._make, payer.carrier, MONTH_WINDOW, now, amount)
        elif kind in OUTFLOWS:
            payer.balance = max(0.0, payer.balance - amount)
            payer.flow_out = _add(self._make, payer.flow_out, FLOW_WINDOWS, now, amount)
        limit = self._limit(kind, event.asset)
        if amount > 0 and cfg.near_limit_share * limit <= amount < limit:
            payer.near_limit = _add(self._make, payer.near_limit, DAY_WEEK_WINDOWS, now, amount)
        if _roundness(event.amount, self._scale(event.asset)) >= 1.0:
            payer.round = _add(self._make, payer.round, DAY_WINDOW, now, amount)
        if kind == "signup" and event.payee:
            referrer = self.accounts.get_or_create(event.payee)
            referrer.referrals = _add(self._make, referrer.referrals, DAY_WEEK_WINDOWS, now, 1.0)
            self.referrals.link(event.payer, event.payee, other_is_account=True)
        elif kind in PAYOUTS and event.payee:
            self.shared.link(event.payer, "p:" + event.payee)
            if kind == "payout_method_change":
                payer.method_change_ns = now
        if payee is not None and kind in INFLOWS_TO_PAYEE:
            payee.balance += amount
            payee.flow_in = _add(self._make, payee.flow_in, FLOW_WINDOWS, now, amount)
            payee.fan_in = _touch(payee.fan_in, event.payer, now, FAN_CAP)
            payer.fan_out = _touch(payer.fan_out, event.payee, now, FAN_CAP)
            self.shared.add_inflow(event.payee)
            carrier = _read(payer.carrier, now, 1)[1][0]
            if carrier >= cfg.carrier_heavy_ratio * self._carrier_monthly(event.asset):
                payee.carrier_in = _add(self._make, payee.carrier_in, WEEK_WINDOW, now, 1.0)
            # Where this money came from: the payer and what reached the payer, for cycles.
            payee.upstream = _touch(payee.upstream, event.payer, now, UPSTREAM_CAP)
            for source, when in list(payer.upstream.items()):
                if source != event.payee and when >= now - NS_PER_DAY:
                    payee.upstream = _touch(payee.upstream, source, when, UPSTREAM_CAP)


class PyLazyRow:
    """A feature row read by index, each family computed on its first read (so a rule
    set that reads five features computes two or three families, not nine)."""

    __slots__ = ("_event", "_features", "_groups")

    def __init__(self, features: OnlineFeatures, event: RiskEvent) -> None:
        self._features = features
        self._event = event
        self._groups: list[list[float] | None] = [None] * len(_GROUP_SIZES)

    def __getitem__(self, index: int) -> float:
        group = _GROUP_OF[index]
        values = self._groups[group]
        if values is None:
            values = self._groups[group] = self._features._group(self._event, group)
        return values[index - _GROUP_STARTS[group]]

    def all(self) -> list[float]:
        """Every feature, in row order."""
        out: list[float] = []
        for group in range(len(_GROUP_SIZES)):
            values = self._groups[group]
            if values is None:
                values = self._groups[group] = self._features._group(self._event, group)
            out += values
        return out


# The families a SharedRow reads from the shared counters: the five velocity families, and
# the carrier inflow's share (its denominator is the payee's count over the week).
_SHARED_GROUPS: Final = (1, 2, 3, 4, 5, 10)


class SharedRow:
    """The C state's row with the families the shared counters hold read from them (the
    same values as PyLazyRow with the same counters), each computed on its first read."""

    __slots__ = ("_event", "_features", "_native", "_shared")

    def __init__(self, features: OnlineFeatures, event: RiskEvent, native: LazyRow) -> None:
        self._features = features
        self._event = event
        self._native = native
        self._shared: dict[int, list[float]] = {}

    def __getitem__(self, index: int) -> float:
        group = _GROUP_OF[index]
        if group not in _SHARED_GROUPS:
            return self._native[index]
        return self._family(group)[index - _GROUP_STARTS[group]]

    def all(self) -> list[float]:
        """Every feature, in row order."""
        out = self._native.all()
        for group in _SHARED_GROUPS:
            start = _GROUP_STARTS[group]
            out[start : start + _GROUP_SIZES[group]] = self._family(group)
        return out

    def _family(self, group: int) -> list[float]:
        values = self._shared.get(group)
        if values is None:
            event, now = self._event, self._event.timestamp_ns
            if group == 10:  # the inflow from the C state, the week's count shared
                carrier_in = self._native[_GROUP_STARTS[10]]
                payee_7d = self._features._payee_count_7d(event, now)
                values = [carrier_in, carrier_in / payee_7d if payee_7d else 0.0]
            else:
                values = self._features._velocity(event, now, group - 1)
            self._shared[group] = values
        return values


def _roundness(amount: int, scale: int) -> float:
    """2 for a multiple of 100 whole units, 1 for a multiple of 10, else 0."""
    if amount <= 0:
        return 0.0
    whole = 10**scale
    if amount % (100 * whole) == 0:
        return 2.0
    return 1.0 if amount % (10 * whole) == 0 else 0.0
