"""Union-find components against a naive computation, and the bound on links."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from centime.risk.graph import Components

ACCOUNTS = [f"a{i}" for i in range(12)]
THINGS = [f"d:{i}" for i in range(6)]


def naive_components(links: list[tuple[str, str]]) -> list[set[str]]:
    groups: list[set[str]] = []
    for a, b in links:
        touching = [g for g in groups if a in g or b in g]
        merged = {a, b}.union(*touching)
        groups = [g for g in groups if g not in touching] + [merged]
    return groups


@settings(max_examples=100)
@given(
    st.lists(st.tuples(st.sampled_from(ACCOUNTS), st.sampled_from(THINGS + ACCOUNTS)), max_size=40),
    st.lists(st.sampled_from(ACCOUNTS), max_size=20),
)
def test_components_match_a_naive_computation(
    links: list[tuple[str, str]], inflows: list[str]
) -> None:
    graph = Components(max_edges=1_000)
    for account, other in links:
        graph.link(account, other, other_is_account=other in ACCOUNTS)
    for account in inflows:
        graph.add_inflow(account)
    groups = naive_components(links)
    linked_accounts = {a for a, _ in links} | {o for _, o in links if o in ACCOUNTS}
    for account in ACCOUNTS:
        group = next((g for g in groups if account in g), {account})
        members = {n for n in group if n in linked_accounts} or {account}
        assert graph.size(account) == len(members)
        expected_inflow = sum(1 for a in inflows if a in members and a in linked_accounts)
        assert graph.inflow(account) == expected_inflow
        for other in ACCOUNTS:
            assert graph.same(account, other) == (
                account in linked_accounts and other in linked_accounts and other in group
            )


def test_the_oldest_links_go_when_the_bound_is_reached() -> None:
    graph = Components(max_edges=10)
    graph.link("a0", "d:shared")
    graph.link("a1", "d:shared")
    assert graph.size("a0") == 2
    for i in range(2, 11):  # nine more links: the eleventh overflows, the oldest tenth goes
        graph.link(f"a{i}", f"d:{i}")
    assert graph.rebuilds == 1 and len(graph) == 10
    assert graph.size("a0") == 1  # its link was the oldest
    assert graph.size("a1") == 1
    graph.link("a2", "d:2")  # seen again: the most recent now, no rebuild
    assert graph.rebuilds == 1
    graph.link("a5", "d:shared")  # overflows again: a1's link, now the oldest, goes
    assert graph.rebuilds == 2 and len(graph) == 10
    assert not graph.same("a1", "a5") and graph.same("a5", "d:shared")
    graph.link("a6", "d:shared")
    assert graph.size("a5") == 2 and graph.size("a2") == 1
