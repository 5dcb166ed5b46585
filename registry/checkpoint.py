"""Checkpoints as C2SP signed notes (c2sp.org/signed-note, c2sp.org/tlog-checkpoint).

A checkpoint is the text ``<origin>\\n<size>\\n<base64 root>\\n`` followed by a blank
line and one signature line per signer, ``— <key name> <base64(key hash ‖ sig)>``.
Any tlog tool (Go's ``golang.org/x/mod/sumdb/note``, transparency-dev witnesses)
can verify it with the verifier key string ``<name>+<hex key hash>+<base64(0x01 ‖
Ed25519 public key)>`` that ``LogKey.verifier_key`` returns.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from infra.errors import InvalidInput

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "LogKey",
    "Verifier",
    "format_checkpoint",
    "load_or_create_key",
    "open_note",
    "origin_for",
    "parse_checkpoint",
]

_ED25519 = 0x01
_SIG_PREFIX = "\u2014 "
_KEY_NAME = re.compile(r"^[^\s+]+$")
#: Signed notes are small; a larger one is refused before any parsing.
MAX_NOTE_BYTES = 16 * 1024
MAX_SIGNATURES = 16


class CheckpointError(InvalidInput):
    code = "checkpoint_invalid"
    title = "Checkpoint is malformed or its signature does not verify"


def origin_for(public_url: str, municipality_code: str) -> str:
    """The log origin of a municipality: ``<host[:port][/path]>/registry/<DIR3>``."""
    base = public_url.split("://", 1)[-1].rstrip("/")
    return f"{base}/registry/{municipality_code}"


def _key_hash(name: str, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([_ED25519]) + public).digest()[:4]


@dataclass(frozen=True)
class Verifier:
    """An Ed25519 note verifier: key name, 4-byte key hash and raw public key."""

    name: str
    key_hash: bytes
    public: bytes

    @classmethod
    def parse(cls, vkey: str) -> Verifier:
        """Parse a verifier key string ``<name>+<hex hash>+<base64(0x01 ‖ key)>``."""
        try:
            name, hash_hex, key_b64 = vkey.strip().split("+", 2)
            raw = base64.b64decode(key_b64, validate=True)
            key_hash = bytes.fromhex(hash_hex)
        except ValueError as exc:
            raise CheckpointError("malformed verifier key") from exc
        if not _KEY_NAME.match(name) or len(raw) != 33 or raw[0] != _ED25519:
            raise CheckpointError("verifier key is not an Ed25519 note key")
        if not hmac.compare_digest(key_hash, _key_hash(name, raw[1:])):
            raise CheckpointError("verifier key hash does not match its name and key")
        return cls(name, key_hash, raw[1:])

    def __str__(self) -> str:
        key = base64.b64encode(bytes([_ED25519]) + self.public).decode()
        return f"{self.name}+{self.key_hash.hex()}+{key}"

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the raw public key, for pinning by eye."""
        return hashlib.sha256(self.public).hexdigest()

    def verify(self, text: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public).verify(signature, text)
        except InvalidSignature:
            return False
        return True


class LogKey:
    """The deployment's Ed25519 log key; one verifier name (the origin) per municipality."""

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private
        self.public = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    def verifier(self, name: str) -> Verifier:
        if not _KEY_NAME.match(name):
            raise ValueError(f"invalid note key name {name!r}")
        return Verifier(name, _key_hash(name, self.public), self.public)

    def sign_note(self, name: str, text: str) -> str:
        """``text`` followed by its signature line, as a complete signed note."""
        if not text.endswith("\n"):
            raise ValueError("note text must end with a newline")
        sig = self._private.sign(text.encode())
        blob = base64.b64encode(_key_hash(name, self.public) + sig).decode()
        return f"{text}\n{_SIG_PREFIX}{name} {blob}\n"


def load_or_create_key(path: Path) -> LogKey:
    """Load the PKCS#8 PEM key at ``path``, creating it once, race-free across workers."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        try:
            os.link(tmp, path)  # fails if another worker won the race; then use its key
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return LogKey(key)


@dataclass(frozen=True)
class Checkpoint:
    """The checkpoint body: origin, tree size and root hash."""

    origin: str
    size: int
    root: bytes

    def text(self) -> str:
        return format_checkpoint(self.origin, self.size, self.root)


def format_checkpoint(origin: str, size: int, root: bytes) -> str:
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse a checkpoint body (extension lines after the root are allowed and ignored)."""
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "":
        raise CheckpointError("a checkpoint has an origin, a size and a root hash")
    origin, size_text, root_b64 = lines[0], lines[1], lines[2]
    if not origin or not size_text.isdigit() or (size_text != "0" and size_text[0] == "0"):
        raise CheckpointError("malformed checkpoint origin or size")
    try:
        root = base64.b64decode(root_b64, validate=True)
    except ValueError as exc:
        raise CheckpointError("checkpoint root is not base64") from exc
    if len(root) != 32:
        raise CheckpointError("checkpoint root is not a SHA-256 hash")
    return Checkpoint(origin, int(size_text), root)


def open_note(note: str, verifier: Verifier) -> str:
    """Verify a signed note with ``verifier``; returns its text (signatures removed).

    Signature lines by other keys (witness cosignatures) are tolerated; at least one
    line must be ``verifier``'s and every one of its lines must verify.
    """
    if len(note.encode()) > MAX_NOTE_BYTES:
        raise CheckpointError("signed note is too large")
    text, sep, sigs = note.rpartition("\n\n")
    if not sep or not sigs.endswith("\n"):
        raise CheckpointError("signed note has no signature block")
    text += "\n"
    lines = sigs[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise CheckpointError("signed note has too many signatures")
    matched = False
    for line in lines:
        if not line.startswith(_SIG_PREFIX):
            raise CheckpointError("malformed signature line")
        name, _, blob_b64 = line[len(_SIG_PREFIX):].partition(" ")
        try:
            blob = base64.b64decode(blob_b64, validate=True)
        except ValueError as exc:
            raise CheckpointError("signature is not base64") from exc
        if len(blob) < 5:
            raise CheckpointError("signature is too short")
        if name != verifier.name or not hmac.compare_digest(blob[:4], verifier.key_hash):
            continue
        if not verifier.verify(text.encode(), blob[4:]):
            raise CheckpointError(f"signature by {name} does not verify")
        matched = True
    if not matched:
        raise CheckpointError(f"note is not signed by {verifier.name}")
    return text
