"""Ed25519 signing keys in a key file (a JWKS with the private parts, mode 0600), outside the database.

The last key in the file signs; earlier ones stay in the file (and published) so that old statements verify after a
rotation. A key's id (`kid`) is its RFC 7638 thumbprint, so anyone can check that a published key matches its id.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from joserfc.jwk import OKPKey

from shared.ledger.canonical import timestamp

PUBLIC_MEMBERS = ("kty", "crv", "x", "kid", "alg", "use")


class KeyFileError(ValueError):
    """The key file is missing, unreadable or not a JWKS of Ed25519 keys."""


@dataclass(frozen=True)
class Keyring:
    keys: tuple[OKPKey, ...]

    @property
    def active(self) -> OKPKey:
        return self.keys[-1]

    def public_jwks(self) -> dict[str, Any]:
        return {"keys": [public_jwk(k) for k in self.keys]}


def public_jwk(key: OKPKey) -> dict[str, Any]:
    """The public JWK published for verification (never `d`)."""
    data = key.as_dict(private=False)
    return {"kty": "OKP", "crv": data["crv"], "x": data["x"], "kid": key.kid, "alg": "EdDSA", "use": "sig"}


def new_key(now: datetime) -> OKPKey:
    key = OKPKey.generate_key("Ed25519", private=True, auto_kid=False)
    kid = key.thumbprint()
    return OKPKey.import_key(
        {**key.as_dict(private=True), "kid": kid, "alg": "EdDSA", "use": "sig", "created_at": timestamp(now)}
    )


def load_keyring(path: Path) -> Keyring:
    """Read a key file; raises KeyFileError naming the problem."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        keys = tuple(OKPKey.import_key(k) for k in doc["keys"])
    except FileNotFoundError as exc:
        raise KeyFileError(f"no signing key file at {path}; create one with `baseload keys signing create`") from exc
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise KeyFileError(f"{path} is not a JWKS of Ed25519 keys: {exc}") from exc
    if not keys or any(k.as_dict().get("crv") != "Ed25519" or not k.is_private for k in keys):
        raise KeyFileError(f"{path} must hold at least one private Ed25519 key")
    return Keyring(keys)


def add_key(path: Path, now: datetime) -> OKPKey:
    """Append a new signing key (it becomes the active one); creates the file with mode 0600 if needed."""
    existing: list[dict[str, Any]] = []
    if path.exists():
        existing = [k.as_dict(private=True) for k in load_keyring(path).keys]
    key = new_key(now)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"keys": [*existing, key.as_dict(private=True)]}, indent=2) + "\n"
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return key
