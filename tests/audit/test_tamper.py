"""Edit the database behind the ledger's back; `centime audit verify` must exit non-zero and
name the right position first. Transfer id k is leaf k - 1 (ids were given in order)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from centime.cli import app

from .conftest import Audited

runner = CliRunner()

COLUMNS = (
    "id, debit_account_id, credit_account_id, amount, asset, code, flags, pending_id,"
    " timeout_s, user_data"
)


def _verify(audited: Audited) -> tuple[int, str]:
    audited.ledger.close()
    result = runner.invoke(app, ["audit", "verify", "--database-url", audited.url, "--all"])
    return result.exit_code, result.output


def _first_problem(output: str) -> str:
    lines = [line for line in output.splitlines() if line.startswith("PROBLEM")]
    assert lines, output
    return lines[0]


def test_untouched_store_verifies(filled: Audited) -> None:
    code, output = _verify(filled)
    assert code == 0, output


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        ("UPDATE transfers SET amount = amount + 1 WHERE id = 20", "leaf 19 (batch"),
        (
            "UPDATE transfers SET debit_account_id = 3, credit_account_id = 2 WHERE id = 20",
            "leaf 19 (batch",
        ),
        ("DELETE FROM transfers WHERE id = 20", "leaf 19 (batch"),
        ("DELETE FROM transfers", "leaf 0 (batch"),
    ],
    ids=["amount", "account", "deleted-row", "truncated-table"],
)
def test_edited_transfers_are_found_at_their_leaf(
    filled: Audited, edit: str, expected: str
) -> None:
    filled.sql(edit)
    code, output = _verify(filled)
    assert code == 1
    first = _first_problem(output)
    assert expected in first, first


def test_deleted_row_is_named_as_such(filled: Audited) -> None:
    filled.sql("DELETE FROM transfers WHERE id = 20")
    code, output = _verify(filled)
    assert code == 1
    first = _first_problem(output)
    assert "leaf 19" in first and "transfer 21" in first and "logged at leaf 20" in first, first


def test_swapped_rows_are_found_at_the_first_of_them(filled: Audited) -> None:
    a = filled.sql(f"SELECT {COLUMNS}, timestamp FROM transfers WHERE id = 20")[0]
    b = filled.sql(f"SELECT {COLUMNS}, timestamp FROM transfers WHERE id = 25")[0]
    assignments = ", ".join(f"{c.strip()} = ?" for c in COLUMNS.split(","))
    filled.sql("UPDATE transfers SET id = 999999 WHERE id = 25")
    filled.sql(f"UPDATE transfers SET {assignments} WHERE timestamp = ?", (*b[:-1], a[-1]))
    filled.sql(f"UPDATE transfers SET {assignments} WHERE timestamp = ?", (*a[:-1], b[-1]))
    code, output = _verify(filled)
    assert code == 1
    first = _first_problem(output)
    # The timestamp stays with the row, and it is part of the leaf: the content of 25 at the
    # time of 20 is a leaf the log never had.
    assert "leaf 19" in first and "transfer 25" in first, first


def test_a_changed_balance_is_found_with_its_account(filled: Audited) -> None:
    filled.sql("UPDATE accounts SET credits_posted = credits_posted + 1 WHERE id = 3")
    code, output = _verify(filled)
    assert code == 1
    first = _first_problem(output)
    assert first.startswith("PROBLEM account: account 3: differs from the audit log"), first


def test_a_changed_pending_state_is_found(filled: Audited) -> None:
    filled.sql("UPDATE pending_transfers SET status = 'voided' WHERE transfer_id = 11")
    code, output = _verify(filled)
    assert code == 1
    assert "pending 11" in _first_problem(output)


def test_an_inserted_transfer_is_found(filled: Audited) -> None:
    last = filled.sql("SELECT MAX(timestamp) FROM transfers")[0][0]
    filled.sql(
        f"INSERT INTO transfers ({COLUMNS}, timestamp) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (777, 2, 3, 5, "USD", 1, 0, 0, 0, 0, last + 1),
    )
    code, output = _verify(filled)
    assert code == 1
    assert "transfer 777" in _first_problem(output)


def test_a_log_rewritten_to_match_is_caught_by_the_signed_heads(filled: Audited) -> None:
    """Change a transfer and the stored leaf hash with it (as an attacker with the database
    but not the key would): the leaves agree again, but the signed heads do not."""
    from centime.audit.encoding import transfer_leaf_hashes
    from centime.ledger import Transfer

    filled.sql("UPDATE transfers SET amount = 1 WHERE id = 20")
    row = filled.sql(f"SELECT {COLUMNS}, timestamp FROM transfers WHERE id = 20")[0]
    (leaf,) = transfer_leaf_hashes([Transfer(*row)])
    first, blob = filled.sql(
        "SELECT first_index, hashes FROM audit_nodes WHERE level = 0 AND first_index <= 19"
        " ORDER BY first_index DESC LIMIT 1"
    )[0]
    blob = bytes(blob)
    offset = (19 - first) * 32
    filled.sql(
        "UPDATE audit_nodes SET hashes = ? WHERE level = 0 AND first_index = ?",
        (blob[:offset] + leaf + blob[offset + 32 :], first),
    )
    code, output = _verify(filled)
    assert code == 1
    problems = [line for line in output.splitlines() if line.startswith("PROBLEM")]
    assert any("batch" in p and "root_hash differs" in p for p in problems), problems
    assert any(p.startswith("PROBLEM head") and "fork" in p for p in problems), problems
