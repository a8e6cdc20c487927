"""Signed tree heads and the operator's keys (Ed25519, with ``cryptography``).

A tree head says: at engine time ``timestamp``, the log held ``tree_size`` transfers whose
Merkle root is ``root_hash``, and its newest batch was ``batch_seq`` with hash ``batch_hash``
(which chains every batch before it, state changes included). The operator signs the head's
canonical bytes (:meth:`TreeHead.message`) with its current key.

Keys: a key's id is SHA-256 of its raw 32-byte public key. Rotation makes a new key and has
the old key sign the new one (an *endorsement*); old public keys stay published, so every
head ever signed keeps verifying, and whoever trusts the first key can follow the chain of
endorsements to the current one. The private key lives in one PEM file (PKCS #8), created
with mode 0600; its path is configuration, and neither it nor the key is ever logged.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from centime.ledger.port import AuditHeadRow, AuditKeyRow

__all__ = [
    "AuditKeyError",
    "HeadSigner",
    "Keyring",
    "PublicKey",
    "SignedTreeHead",
    "TreeHead",
    "b64",
    "from_b64",
    "generate_key_file",
    "key_id_of",
]

HEAD_CONTEXT: Final = b"centime-audit-tree-head-v1\x00"
ENDORSEMENT_CONTEXT: Final = b"centime-audit-key-endorsement-v1\x00"
_HEAD_NUMBERS: Final = struct.Struct(">QQQ")  # tree_size, timestamp, batch_seq
KEY_FILE_MODE: Final = 0o600
KEYRING_KEYS_MAX: Final = 1024


class AuditKeyError(ValueError):
    """A key file or keyring that cannot be used; the message says why (never the key)."""


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def from_b64(text: str, size: int | None = None) -> bytes:
    """Strict standard base64 (RFC 4648 section 4); ``size`` checks the decoded length."""
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError) as error:
        raise ValueError("not standard base64") from error
    if size is not None and len(data) != size:
        raise ValueError(f"expected {size} bytes, got {len(data)}")
    return data


def key_id_of(public_key: bytes) -> bytes:
    return hashlib.sha256(public_key).digest()


@dataclass(frozen=True, slots=True)
class TreeHead:
    tree_size: int
    timestamp: int  # engine nanoseconds
    root_hash: bytes
    batch_seq: int
    batch_hash: bytes

    def message(self, key_id: bytes) -> bytes:
        """What is signed: context, key id, then the head's fields in fixed width."""
        return b"".join(
            (
                HEAD_CONTEXT,
                key_id,
                _HEAD_NUMBERS.pack(self.tree_size, self.timestamp, self.batch_seq),
                self.root_hash,
                self.batch_hash,
            )
        )


@dataclass(frozen=True, slots=True)
class SignedTreeHead:
    head: TreeHead
    key_id: bytes
    signature: bytes

    def to_json(self) -> dict[str, Any]:
        h = self.head
        return {
            "tree_size": h.tree_size,
            "timestamp": h.timestamp,
            "root_hash": b64(h.root_hash),
            "batch_seq": h.batch_seq,
            "batch_hash": b64(h.batch_hash),
            "key_id": b64(self.key_id),
            "signature": b64(self.signature),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SignedTreeHead:
        try:
            head = TreeHead(
                tree_size=_uint(data["tree_size"]),
                timestamp=_uint(data["timestamp"]),
                root_hash=from_b64(data["root_hash"], 32),
                batch_seq=_uint(data["batch_seq"]),
                batch_hash=from_b64(data["batch_hash"], 32),
            )
            return cls(head, from_b64(data["key_id"], 32), from_b64(data["signature"], 64))
        except (KeyError, TypeError, AttributeError) as error:
            raise ValueError(f"not a signed tree head: {error!r}") from error

    def row(self) -> AuditHeadRow:
        h = self.head
        return AuditHeadRow(
            h.timestamp,
            h.tree_size,
            h.root_hash,
            h.batch_seq,
            h.batch_hash,
            self.key_id,
            self.signature,
        )

    @classmethod
    def from_row(cls, row: AuditHeadRow) -> SignedTreeHead:
        return cls(
            TreeHead(
                row.tree_size,
                row.timestamp,
                bytes(row.root_hash),
                row.batch_seq,
                bytes(row.batch_hash),
            ),
            bytes(row.key_id),
            bytes(row.signature),
        )


def _uint(value: object) -> int:
    if type(value) is not int or not 0 <= value <= 2**63 - 1:
        raise ValueError(f"expected an integer in 0..2^63-1, got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class PublicKey:
    """One of the operator's keys as published: ``key_id`` is SHA-256 of the raw
    ``public_key`` (checked when read), ``created_ns`` orders the keyring, and
    ``endorsement`` is the previous key's signature over this one (b"" for the first)."""

    key_id: bytes
    public_key: bytes
    created_ns: int
    endorsement: bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "key_id": b64(self.key_id),
            "algorithm": "Ed25519",
            "public_key": b64(self.public_key),
            "created": self.created_ns,
            "endorsement": b64(self.endorsement),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PublicKey:
        try:
            if data.get("algorithm", "Ed25519") != "Ed25519":
                raise ValueError("only Ed25519 keys are known")
            public = from_b64(data["public_key"], 32)
            key = cls(
                from_b64(data["key_id"], 32),
                public,
                _uint(data.get("created", 0)),
                from_b64(data.get("endorsement", "")),
            )
        except (KeyError, TypeError, AttributeError) as error:
            raise ValueError(f"not a public key entry: {error!r}") from error
        if key.key_id != key_id_of(public):
            raise ValueError("key_id is not SHA-256 of the public key")
        return key

    def row(self) -> AuditKeyRow:
        return AuditKeyRow(self.key_id, self.public_key, self.created_ns, self.endorsement)

    def verify(self, signature: bytes, message: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


class Keyring:
    """Public keys by id: every key that ever signed, in the order they were created."""

    def __init__(self, keys: Iterable[PublicKey]) -> None:
        self.keys = sorted(keys, key=lambda k: (k.created_ns, k.key_id))
        if len(self.keys) > KEYRING_KEYS_MAX:
            raise ValueError(f"a keyring holds at most {KEYRING_KEYS_MAX} keys")
        self._by_id = {k.key_id: k for k in self.keys}

    def get(self, key_id: bytes) -> PublicKey | None:
        return self._by_id.get(key_id)

    def verify_head(self, sth: SignedTreeHead) -> bool:
        key = self._by_id.get(sth.key_id)
        return key is not None and key.verify(sth.signature, sth.head.message(sth.key_id))

    def endorsement_breaks(self) -> list[PublicKey]:
        """Keys after the first that their predecessor did not endorse."""
        broken = []
        for previous, key in zip(self.keys, self.keys[1:], strict=False):
            message = ENDORSEMENT_CONTEXT + key.key_id + key.public_key
            if not previous.verify(key.endorsement, message):
                broken.append(key)
        return broken

    def to_json(self) -> dict[str, Any]:
        return {"keys": [k.to_json() for k in self.keys]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Keyring:
        entries = data.get("keys") if isinstance(data, Mapping) else None
        if not isinstance(entries, list):
            raise ValueError('a keyring is {"keys": [...]}')
        return cls(PublicKey.from_json(entry) for entry in entries)

    @classmethod
    def load(cls, path: Path) -> Keyring:
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")))


class HeadSigner:
    """The operator's current private key. ``repr`` never shows it."""

    def __init__(self, private_key: Ed25519PrivateKey, created_ns: int = 0) -> None:
        self._private_key = private_key
        self.public_key = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.key_id = key_id_of(self.public_key)
        self.created_ns = created_ns

    def __repr__(self) -> str:
        return f"HeadSigner(key_id={self.key_id.hex()[:16]}...)"

    @classmethod
    def generate(cls, created_ns: int = 0) -> HeadSigner:
        return cls(Ed25519PrivateKey.generate(), created_ns)

    @classmethod
    def load(cls, path: Path) -> HeadSigner:
        try:
            data = path.read_bytes()
        except OSError as error:
            message = f"cannot read the audit key file {path}: {error.strerror}"
            raise AuditKeyError(message) from None
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError):
            raise AuditKeyError(f"{path} is not an unencrypted PKCS #8 PEM private key") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise AuditKeyError(f"{path} does not hold an Ed25519 key")
        return cls(key, int(path.stat().st_mtime_ns))

    def write(self, path: Path) -> None:
        """Write the private key to a new file ``path`` with mode 0600 (never overwrites)."""
        pem = self._private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, KEY_FILE_MODE)
        try:
            os.fchmod(fd, KEY_FILE_MODE)  # whatever the umask
            os.write(fd, pem)
            os.fsync(fd)
        finally:
            os.close(fd)

    def public(self, endorsement: bytes = b"") -> PublicKey:
        return PublicKey(self.key_id, self.public_key, self.created_ns, endorsement)

    def sign_head(self, head: TreeHead) -> SignedTreeHead:
        return SignedTreeHead(head, self.key_id, self._private_key.sign(head.message(self.key_id)))

    def endorse(self, successor: HeadSigner) -> bytes:
        """This key's signature over ``successor``'s public key (made at rotation)."""
        return self._private_key.sign(ENDORSEMENT_CONTEXT + successor.key_id + successor.public_key)


def generate_key_file(path: Path, created_ns: int) -> HeadSigner:
    signer = HeadSigner.generate(created_ns)
    signer.write(path)
    return signer
