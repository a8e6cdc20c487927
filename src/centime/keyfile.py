"""Server secrets from the environment: a 32-byte key given in clear (base64) by one
variable, or kept in a file another variable names, or in a default file made on first use
(32 random bytes, base64, mode 0600, never overwritten) beside the SQLite database.

The webhook secrets' key (``CENTIME_WEBHOOK_KEY``), the top-up instruments' fingerprint key
(``CENTIME_INSTRUMENT_KEY``) and the web apps' key (``CENTIME_WEB_KEY``, which keys the CSRF
tokens) follow this pattern; no key is ever logged or printed.
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = ["KEY_BYTES", "derive_key", "key_from_env", "required_key"]

KEY_BYTES: Final = 32


def _decoded(text: bytes | str, where: str) -> bytes:
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as error:
        raise RuntimeError(f"{where} is not base64") from error
    if len(key) != KEY_BYTES:
        raise RuntimeError(f"{where} must hold {KEY_BYTES} bytes (base64)")
    return key


def key_from_env(key_env: str, file_env: str, default_file: Path | None) -> bytes | None:
    """The key ``key_env`` gives, else the one in the file ``file_env`` names, else the one
    in ``default_file`` (made when missing); None when none is given. Raises RuntimeError
    for a malformed key."""
    text = os.environ.get(key_env, "").strip()
    if text:
        return _decoded(text, key_env)
    named = os.environ.get(file_env, "").strip()
    path = Path(named) if named else default_file
    if path is None:
        return None
    if not path.exists():
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it meanwhile: read theirs
            pass
        else:
            with os.fdopen(descriptor, "wb") as out:
                out.write(base64.b64encode(os.urandom(KEY_BYTES)))
    return _decoded(path.read_bytes().strip(), str(path))


def required_key(key_env: str, file_env: str, default_file: Path | None) -> bytes:
    """:func:`key_from_env`, but a key that is not given at all is a RuntimeError too."""
    key = key_from_env(key_env, file_env, default_file)
    if key is None:
        raise RuntimeError(f"set {key_env} or {file_env}")
    return key


def derive_key(key: bytes, label: str) -> bytes:
    """A key for another purpose from ``key`` (HKDF-SHA-256, the label as info): knowing
    the derived key tells nothing of ``key`` nor of other labels' keys."""
    return HKDF(algorithm=SHA256(), length=KEY_BYTES, salt=None, info=label.encode()).derive(key)
