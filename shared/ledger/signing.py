"""JWS (RFC 7515) compact serialisation, EdDSA over Ed25519 (RFC 8037), of a statement's RFC 8785 payload.

Header: `{"alg":"EdDSA","kid":<RFC 7638 thumbprint>,"typ":"baseload-statement+jws"}`. The payload bytes are
exactly the canonical JSON, so a verifier can re-canonicalise and compare. The statement's hash (used by the chain)
is `sha256:` + hex SHA-256 of the compact JWS's ASCII bytes.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError, SecurityWarning
from joserfc.jwk import KeySet, OKPKey

from shared.ledger.canonical import canonical, parse, tagged_sha256

ALGORITHM = "EdDSA"
ACCEPTED = ["EdDSA", "Ed25519"]  # RFC 9864's fully specified name for the same signature, if a verifier uses it
TYPE = "baseload-statement+jws"


@contextmanager
def _eddsa_by_name() -> Iterator[None]:
    """RFC 9864 deprecates the name "EdDSA" in favour of "Ed25519" (same signature bytes); we keep "EdDSA" because
    most partners' JOSE tools know only that name. joserfc warns on every use: the choice is deliberate."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="EdDSA is deprecated", category=SecurityWarning)
        yield


class VerificationError(ValueError):
    """A statement that does not verify; `code` names why (for the error envelope and the CLI)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def sign(payload: Mapping[str, Any], key: OKPKey) -> str:
    """The compact JWS of the canonical payload, signed with `key`."""
    header = {"alg": ALGORITHM, "kid": key.kid, "typ": TYPE}
    with _eddsa_by_name():
        return jws.serialize_compact(header, canonical(payload), key, algorithms=[ALGORITHM])


def statement_hash(token: str) -> str:
    return tagged_sha256(token.encode("ascii"))


def header_of(token: str) -> dict[str, Any]:
    try:
        return dict(jws.extract_compact(token.encode("ascii")).headers())
    except (JoseError, ValueError, UnicodeError) as exc:
        raise VerificationError("malformed_statement", f"not a compact JWS: {exc}") from exc


def verify(token: str, jwks: Mapping[str, Any]) -> dict[str, Any]:
    """The payload of a statement whose signature verifies with a key of `jwks`; else VerificationError."""
    header = header_of(token)
    kid = header.get("kid")
    if header.get("alg") not in ACCEPTED:
        raise VerificationError("unsupported_algorithm", f"alg {header.get('alg')!r} is not EdDSA")
    known = [k for k in jwks.get("keys", []) if k.get("kid") == kid]
    if not known:
        raise VerificationError("unknown_signing_key", f"no published key has kid {kid!r}")
    try:
        key_set = KeySet.import_key_set({"keys": known})
        with _eddsa_by_name():
            obj = jws.deserialize_compact(token, key_set, algorithms=ACCEPTED)
    except JoseError as exc:
        raise VerificationError("bad_signature", f"the signature does not verify with key {kid!r}: {exc}") from exc
    try:
        payload = parse(obj.payload)
    except ValueError as exc:
        raise VerificationError("malformed_statement", "the payload is not JSON") from exc
    if not isinstance(payload, dict) or canonical(payload) != obj.payload:
        raise VerificationError("non_canonical_payload", "the payload is not RFC 8785 canonical JSON")
    return payload


def unverified_payload(token: str) -> dict[str, Any]:
    """The payload without checking the signature (to read a statement stored by ourselves)."""
    try:
        return parse(jws.extract_compact(token.encode("ascii")).payload)
    except (JoseError, ValueError, UnicodeError) as exc:
        raise VerificationError("malformed_statement", f"not a compact JWS: {exc}") from exc
