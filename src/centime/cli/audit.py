"""``centime audit``: the tamper-evident log (docs/audit.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer

from centime.store import LedgerStore

from .common import DatabaseUrl

__all__ = ["audit_app"]

audit_app = typer.Typer(
    help="The tamper-evident log: verify, prove, check proofs offline, export heads, keys.",
    no_args_is_help=True,
)
audit_keys_app = typer.Typer(help="The operator's signing keys.", no_args_is_help=True)
audit_app.add_typer(audit_keys_app, name="keys")


AuditKeyFile = typer.Option(
    ...,
    "--key-file",
    envvar="CENTIME_AUDIT_KEY_FILE",
    help="The operator's private signing key (PEM, mode 0600).",
)


AuditAnchors = typer.Option(
    [], "--anchor", help="An exported head (JSON) to check the log against; repeatable."
)


_SIZE_MAX = 2**63 - 1  # a tree size or transfer id: a signed 64-bit integer


def _newer_size(flag: str, minimum: int, help: str) -> Any:
    """An optional tree size (or id) option; without it the latest signed head's."""
    return typer.Option(None, flag, min=minimum, max=_SIZE_MAX, help=help)


def _emit(document: object, out: str = "-") -> None:
    import json

    text = json.dumps(document, indent=2)
    if out == "-":
        typer.echo(text)
    else:
        from pathlib import Path

        Path(out).write_text(text + "\n", encoding="utf-8")


def _audit_document(
    database_url: str, produce: Callable[[LedgerStore], dict[str, Any]]
) -> dict[str, Any]:
    """``produce(store)``, with the store closed after; a missing head, transfer or an
    impossible proof is a clear error and exit 1."""
    from centime.audit import NotFoundError, ProofError
    from centime.store import open_store

    store = open_store(database_url)
    try:
        return produce(store)
    except (NotFoundError, ProofError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    finally:
        store.close()


@audit_app.command("verify")
def audit_verify(
    database_url: str = DatabaseUrl,
    keys: str | None = typer.Option(
        None, "--keys", help="Trusted keyring JSON (default: the keys the store publishes)."
    ),
    anchor: list[str] = AuditAnchors,
    show_all: bool = typer.Option(False, "--all", help="List every problem, not the first."),
) -> None:
    """Recompute the tree, the chain and the state from the store; check every signed head.
    Exit 1 at the first problem, naming its position."""
    from centime.audit import Keyring, SignedTreeHead, verify_log
    from centime.audit.service import read_json
    from centime.store import open_store

    keyring = Keyring.from_json(read_json(keys)) if keys else None
    anchors = []
    for path in anchor:
        document = read_json(path)
        anchors.append(SignedTreeHead.from_json(document.get("head", document)))
    store = open_store(database_url)
    try:
        with store.audit_reader() as fetch:
            report = verify_log(fetch, keyring=keyring, anchors=anchors)
    finally:
        store.close()
    for problem in report.problems if show_all else report.problems[:1]:
        typer.echo(f"PROBLEM {problem}", err=True)
    if not report.ok:
        raise typer.Exit(1)
    typer.echo(
        f"audit ok: {report.transfers} transfers in {report.batches} batches, tree size"
        f" {report.tree_size}, root {report.root_hash.hex()}, {report.heads} signed heads,"
        f" {report.accounts} accounts match the log"
    )


@audit_app.command("prove")
def audit_prove(
    transfer_id: int = typer.Argument(..., min=1, max=_SIZE_MAX),
    tree_size: int | None = _newer_size(
        "--tree-size", 1, "Prove against this tree size [default: the latest signed head's]."
    ),
    database_url: str = DatabaseUrl,
) -> None:
    """Print the inclusion proof of a transfer with the signed head it verifies against."""
    from centime.audit.service import inclusion_document

    _emit(_audit_document(database_url, lambda s: inclusion_document(s, transfer_id, tree_size)))


@audit_app.command("prove-consistency")
def audit_prove_consistency(
    first: int = typer.Argument(..., min=0, max=_SIZE_MAX),
    second: int | None = _newer_size(
        "--second", 0, "The newer tree size [default: the latest signed head's]."
    ),
    database_url: str = DatabaseUrl,
) -> None:
    """Print the consistency proof from tree size FIRST to the newer tree."""
    from centime.audit.service import consistency_document

    _emit(_audit_document(database_url, lambda s: consistency_document(s, first, second)))


@audit_app.command("check-proof")
def audit_check_proof(
    proof: str = typer.Argument(
        ..., help="The proof JSON (from `audit prove` or the API); - reads standard input."
    ),
    keys: str = typer.Option(..., "--keys", help="The operator's published keyring JSON."),
    head: str | None = typer.Option(
        None, "--head", help="The signed head JSON [default: the proof document's]."
    ),
    old_head: str | None = typer.Option(
        None, "--old-head", help="For a consistency proof: the older signed head JSON."
    ),
) -> None:
    """Verify a proof offline, from the signed head and the public keys alone. Exit 1 if it
    does not verify, 2 for a fork (two signed heads no single log can have)."""
    from centime.audit import Keyring
    from centime.audit.service import check_proof, read_json

    def head_of(path: str | None) -> dict[str, Any] | None:
        if path is None:
            return None
        document = read_json(path)
        if not isinstance(document, dict):
            raise typer.BadParameter(f"{path}: not a JSON object")
        found: dict[str, Any] = document.get("head", document)
        return found

    result = check_proof(
        read_json(proof), Keyring.from_json(read_json(keys)), head_of(head), head_of(old_head)
    )
    if not result.ok:
        typer.echo(f"INVALID: {result.message}", err=True)
        raise typer.Exit(2 if result.fork else 1)
    typer.echo(f"ok: {result.message}")
    if result.transfer is not None:
        typer.echo(f"transfer: {result.transfer}")


@audit_app.command("export-head")
def audit_export_head(
    database_url: str = DatabaseUrl,
    out: str = typer.Option("-", "--out", help="A file to write, or - for standard output."),
    webhook: str | None = typer.Option(
        None, "--webhook", help="Also POST the document to this URL (JSON)."
    ),
) -> None:
    """Export the latest signed head and the public keys, for others to keep a copy of: a
    later head not consistent with it is a detected fork."""
    from centime.audit.service import export_document

    document = _audit_document(database_url, export_document)
    _emit(document, out)
    if webhook:
        import httpx

        try:
            response = httpx.post(webhook, json=document, timeout=10.0)
            response.raise_for_status()
        except httpx.HTTPError as error:
            typer.echo(f"error: webhook failed: {error}", err=True)
            raise typer.Exit(1) from None


@audit_keys_app.command("rotate")
def audit_keys_rotate(key_file: str = AuditKeyFile, database_url: str = DatabaseUrl) -> None:
    """Make a new signing key (the first one if KEY_FILE does not exist), endorsed by the old
    one and published; old heads keep verifying under the old public key."""
    from pathlib import Path

    from centime.audit import AuditKeyError
    from centime.audit.service import rotate_key
    from centime.store import open_store

    store = open_store(database_url)
    try:
        published = rotate_key(store, Path(key_file))
    except AuditKeyError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    finally:
        store.close()
    typer.echo(f"new signing key {published.key_id.hex()} published")


@audit_keys_app.command("export")
def audit_keys_export(database_url: str = DatabaseUrl) -> None:
    """Print every published public key (the keyring JSON of the well-known URL)."""
    from centime.audit import AuditReader
    from centime.store import open_store

    store = open_store(database_url)
    try:
        with store.audit_reader() as fetch:
            keyring = AuditReader(fetch).keyring()
    finally:
        store.close()
    _emit(keyring.to_json())
