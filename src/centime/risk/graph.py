"""Accounts linked by what they share (a device, a card, a payout account, a referrer), as
connected components kept with union-find, bounded in memory.

Nodes are strings (an account id, or ``"d:" + device`` for a shared thing). Each root keeps
its component's number of accounts and an inflow count (events paying into any of its
accounts), merged on union. The structure remembers at most ``max_edges`` links, least
recently seen first out: when a new link overflows the bound, the oldest tenth is dropped and
the components are rebuilt from the links that remain (amortized O(1) per link; a rebuild
costs O(max_edges) once per ``max_edges / 10`` new links).
"""

from __future__ import annotations

from collections import OrderedDict

__all__ = ["Components"]


class Components:
    __slots__ = (
        "_accounts",
        "_edges",
        "_inflow",
        "_parent",
        "_root_accounts",
        "_root_inflow",
        "max_edges",
        "rebuilds",
    )

    def __init__(self, max_edges: int) -> None:
        if max_edges < 10:
            raise ValueError("max_edges must be at least 10")
        self.max_edges = max_edges
        self._edges: OrderedDict[tuple[str, str], bool] = OrderedDict()  # -> other is account
        self._parent: dict[str, str] = {}
        self._accounts: set[str] = set()  # nodes that are accounts (not devices, cards...)
        self._root_accounts: dict[str, int] = {}
        self._root_inflow: dict[str, int] = {}
        # Inflow per account in the graph, so a rebuild can restore the components' totals.
        self._inflow: dict[str, int] = {}
        self.rebuilds = 0

    def find(self, node: str) -> str:
        parent = self._parent
        root = node
        while (up := parent[root]) != root:
            root = up
        while (up := parent[node]) != root:  # path compression
            parent[node] = root
            node = up
        return root

    def _add_node(self, node: str, is_account: bool) -> None:
        if node in self._parent:
            if is_account and node not in self._accounts:
                self._accounts.add(node)
                self._root_accounts[self.find(node)] += 1
            return
        self._parent[node] = node
        self._root_accounts[node] = 1 if is_account else 0
        self._root_inflow[node] = self._inflow.get(node, 0) if is_account else 0
        if is_account:
            self._accounts.add(node)

    def _union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        # Union by size of the component (accounts + 1, so that things count too).
        if self._root_accounts[ra] < self._root_accounts[rb]:
            ra, rb = rb, ra
        self._parent[rb] = ra
        self._root_accounts[ra] += self._root_accounts.pop(rb)
        self._root_inflow[ra] += self._root_inflow.pop(rb)

    def link(self, account: str, other: str, *, other_is_account: bool = False) -> None:
        """``account`` shares ``other`` (a thing, or another account such as a referrer)."""
        edge = (account, other)
        if edge in self._edges:
            self._edges.move_to_end(edge)
            return
        self._edges[edge] = other_is_account
        if len(self._edges) > self.max_edges:
            for _ in range(max(1, self.max_edges // 10)):
                self._edges.popitem(last=False)
            self._rebuild()
            return
        self._add_node(account, True)
        self._add_node(other, other_is_account)
        self._union(account, other)

    def _rebuild(self) -> None:
        self.rebuilds += 1
        edges = list(self._edges.items())
        self._parent.clear()
        self._accounts.clear()
        self._root_accounts.clear()
        self._root_inflow.clear()
        for (account, other), other_is_account in edges:
            self._add_node(account, True)
            self._add_node(other, other_is_account)
            self._union(account, other)
        self._inflow = {a: n for a, n in self._inflow.items() if a in self._accounts}

    def add_inflow(self, account: str) -> None:
        if account in self._accounts:
            self._inflow[account] = self._inflow.get(account, 0) + 1
            self._root_inflow[self.find(account)] += 1

    def size(self, node: str) -> int:
        """Accounts in ``node``'s component (1 for an account never linked, 0 for a thing)."""
        if node not in self._parent:
            return 1
        return self._root_accounts[self.find(node)]

    def inflow(self, node: str) -> int:
        """Inflow events into the accounts of ``node``'s component."""
        if node not in self._parent:
            return 0
        return self._root_inflow[self.find(node)]

    def same(self, a: str, b: str) -> bool:
        return a in self._parent and b in self._parent and self.find(a) == self.find(b)

    def __len__(self) -> int:
        return len(self._edges)
