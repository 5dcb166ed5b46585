"""Deployment secrets of the OpenID provider, kept in the data folder.

Two secrets are generated once per deployment and never leave the machine:

- the key-encryption key that protects the signing keys stored in the database;
- the pairwise-subject salt, without which pairwise identifiers cannot be
  recomputed (or linked back to a NIF) from a database copy.

Both are files of random bytes created with mode 0600 in ``<data_dir>/oidc``
(mode 0700). Creation is atomic, so concurrent workers agree on one
value. Losing the salt changes every pairwise ``sub``: back it up with the data.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from infra.errors import ElocalError


class VaultError(ElocalError):
    code = "oidc_secret_unavailable"
    status = 503
    title = "A secret of the OpenID provider is unavailable"


SECRET_BYTES = 32


def read_or_create_secret(path: Path, size: int = SECRET_BYTES) -> bytes:
    """The secret in ``path``, created (0600, atomically) on first use."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not path.exists():
        # Written in full under a private name, then linked into place: link() fails if
        # another worker won the race, so every process ends up reading the same bytes.
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(secrets.token_bytes(size))
                fh.flush()
                os.fsync(fh.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    data = path.read_bytes()
    if len(data) != size:
        raise VaultError(f"{path} does not hold a {size}-byte secret")
    return data


class Vault:
    """The provider's data-folder secrets, read once per process."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.kek = read_or_create_secret(folder / "signing-keys.kek")
        self.pairwise_salt = read_or_create_secret(folder / "pairwise.salt")
        self._aead = AESGCM(self.kek)

    def seal(self, plaintext: bytes, associated: bytes) -> bytes:
        nonce = secrets.token_bytes(12)
        return nonce + self._aead.encrypt(nonce, plaintext, associated)

    def open(self, sealed: bytes, associated: bytes) -> bytes:
        try:
            return self._aead.decrypt(sealed[:12], sealed[12:], associated)
        except InvalidTag:
            raise VaultError(
                f"a stored signing key does not decrypt with {self.folder}/signing-keys.kek "
                "(was the data folder replaced or copied without it?)") from None
