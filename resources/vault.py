"""Keys for the raw layer: the pseudonym HMAC key and the encryption key, never stored with the data.

A key comes from an environment variable (base64) or, in the local environment only, from a key file
created on first use with owner-only permissions under the state folder's `keys/`.
"""

import base64
import os
import tempfile
from pathlib import Path

import dagster as dg
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12


class KeyUnavailable(RuntimeError):
    """A key is missing or wrong; the message says which and how to supply it."""


def decode_key(raw: str, source: str) -> bytes:
    """A 32-byte key from base64 text; `source` (a variable or file name) is named when it is not one."""
    try:
        key = base64.b64decode(raw, validate=True)
    except ValueError:
        raise KeyUnavailable(f"{source} is not valid base64") from None
    if len(key) != 32:
        raise KeyUnavailable(f"{source} must decode to 32 bytes, got {len(key)}")
    return key


def key_file(name: str, keys_dir: Path) -> Path:
    """Where the local environment keeps the key of env var `name`."""
    return keys_dir / f"{name.lower()}.key"


def _create_key_file(path: Path) -> None:
    """A fresh key at `path` (0600) unless another process got there first. Parallel steps may all need a key on first
    use, so it is written to a private temporary file and linked into place: `path` never exists half-written, and
    every process ends up reading the one key that won."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as out:
            out.write(base64.b64encode(os.urandom(32)).decode())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
    finally:
        os.unlink(temporary)


def load_key(name: str, keys_dir: Path, create: bool) -> bytes:
    """The key from env var `name`, else from `keys_dir/<name>.key` (created 0600 when `create`)."""
    if raw := os.environ.get(name):
        return decode_key(raw, name)
    path = key_file(name, keys_dir)
    if path.exists():
        return decode_key(path.read_text().strip(), str(path))
    if not create:
        raise KeyUnavailable(f"key {name} is missing: set the environment variable {name} (32 bytes, base64)")
    _create_key_file(path)
    return decode_key(path.read_text().strip(), str(path))


def encrypt(key: bytes, plaintext: bytes, context: str) -> bytes:
    """AES-256-GCM; `context` (the file's logical name) is bound as associated data, so a moved file fails."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, context.encode())


def decrypt(key: bytes, blob: bytes, context: str) -> bytes:
    try:
        return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], context.encode())
    except InvalidTag:
        raise KeyUnavailable(f"cannot decrypt {context}: wrong raw-layer key or the file was altered") from None


class KeyVault(dg.ConfigurableResource):
    """Hands out the raw-layer keys; only the local environment may create missing key files."""

    keys_dir: str
    create_missing: bool = True

    def pseudonym_key(self) -> bytes:
        return load_key("WORKBENCH_PSEUDONYM_KEY", Path(self.keys_dir), self.create_missing)

    def raw_key(self) -> bytes:
        return load_key("WORKBENCH_RAW_KEY", Path(self.keys_dir), self.create_missing)
