"""The platform's symmetric keys from the environment: base64 of 32 bytes in a variable, or
a file a variable names, or a default file (made with 32 random bytes, mode 0600, when
missing: SQLite keeps its keys beside the database). One helper for every such key (the
webhook secrets' key, the instrument fingerprints' key)."""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Final

__all__ = ["KEY_BYTES", "key_from_env"]

KEY_BYTES: Final = 32


def key_from_env(
    key_env: str,
    file_env: str,
    default_file: Path | None,
    environ: Mapping[str, str] | None = None,
) -> bytes:
    """The key ``key_env`` holds, else the one in the file ``file_env`` names, else the
    one in ``default_file`` (made when missing). Raises RuntimeError when none is given,
    ValueError when the key is not base64 of KEY_BYTES bytes."""
    env = os.environ if environ is None else environ
    text = env.get(key_env)
    if text:
        return _checked(base64.b64decode(text, validate=True), key_env)
    named = env.get(file_env)
    path = Path(named) if named else default_file
    if path is None:
        raise RuntimeError(f"set {key_env} or {file_env}")
    if not path.exists():
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # made meanwhile by another process: read theirs
            pass
        else:
            with os.fdopen(descriptor, "wb") as out:
                out.write(base64.b64encode(os.urandom(KEY_BYTES)))
    return _checked(base64.b64decode(path.read_bytes().strip(), validate=True), str(path))


def _checked(key: bytes, where: str) -> bytes:
    if len(key) != KEY_BYTES:
        raise ValueError(f"{where}: a key is base64 of {KEY_BYTES} bytes")
    return key
