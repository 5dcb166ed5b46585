"""C2SP signed notes and checkpoints, checked against the published Go ``sumdb/note``
vectors (Ed25519 is deterministic, so signing must reproduce them byte for byte)."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from registry.checkpoint import (
    CheckpointError,
    LogKey,
    Verifier,
    load_or_create_key,
    open_note,
    origin_for,
    parse_checkpoint,
)

# golang.org/x/mod/sumdb/note note_test.go
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = ("If you think cryptography is the answer to your problem,\n"
           "then you don't know what your problem is.\n")
GO_NOTE = GO_TEXT + ("\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1F"
                     "FYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n")
# c2sp.org/signed-note example
SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = ("This is an example message.\n\n\u2014 example.com/foo "
             "Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6"
             "TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n")


def go_key() -> LogKey:
    seed = base64.b64decode(GO_SKEY.split("+", 4)[4])[1:]
    return LogKey(Ed25519PrivateKey.from_private_bytes(seed))


def test_signing_reproduces_the_go_reference_note() -> None:
    key = go_key()
    assert str(key.verifier("PeterNeumann")) == GO_VKEY
    assert key.sign_note("PeterNeumann", GO_TEXT) == GO_NOTE


def test_published_notes_verify() -> None:
    assert open_note(GO_NOTE, Verifier.parse(GO_VKEY)) == GO_TEXT
    assert open_note(SPEC_NOTE, Verifier.parse(SPEC_VKEY)) == "This is an example message.\n"


@pytest.mark.parametrize("note", [
    GO_NOTE.replace("cryptography", "cryptographY"),
    GO_NOTE.replace("x08go/ZJ", "x08go/ZK"),
    GO_NOTE.replace("\u2014 ", "- "),
    GO_TEXT,
    GO_NOTE.replace("PeterNeumann", "EnochRoot"),
    GO_TEXT + "\n" + ("\u2014 PeterNeumann AAAA\n" * 20),
    "x" * 20000,
])
def test_altered_or_unsigned_notes_are_refused(note: str) -> None:
    with pytest.raises(CheckpointError):
        open_note(note, Verifier.parse(GO_VKEY))


def test_cosignatures_by_other_keys_are_tolerated() -> None:
    other = LogKey(Ed25519PrivateKey.generate()).sign_note("witness.example", GO_TEXT)
    cosigned = GO_NOTE + other.split("\n\n", 1)[1]
    assert open_note(cosigned, Verifier.parse(GO_VKEY)) == GO_TEXT


@pytest.mark.parametrize("vkey", [
    "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    "PeterNeumann+c74f20a3+AhpC2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    "PeterNeumann+c74f20a3",
    "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
])
def test_bad_verifier_keys_are_refused(vkey: str) -> None:
    with pytest.raises(CheckpointError):
        Verifier.parse(vkey)


def test_checkpoint_body_round_trip_and_origin() -> None:
    origin = origin_for("https://sede.example/elocal/", "L01289996")
    assert origin == "sede.example/elocal/registry/L01289996"
    root = bytes(range(32))
    text = f"{origin}\n7\n{base64.b64encode(root).decode()}\n"
    cp = parse_checkpoint(text)
    assert (cp.origin, cp.size, cp.root, cp.text()) == (origin, 7, root, text)
    for bad in (f"{origin}\n07\n{base64.b64encode(root).decode()}\n", f"{origin}\n7\n",
                f"{origin}\n7\nAAAA\n", f"{origin}\n-1\n{base64.b64encode(root).decode()}\n"):
        with pytest.raises(CheckpointError):
            parse_checkpoint(bad)


def test_key_file_is_created_once_and_private(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "registry" / "log-ed25519.pem"
    first = load_or_create_key(path)
    again = load_or_create_key(path)
    assert first.public == again.public
    assert path.stat().st_mode & 0o077 == 0
