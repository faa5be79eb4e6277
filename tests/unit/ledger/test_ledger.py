"""The pure ledger: canonical digest rows, key files and rotation, signatures, chain checks and restatement diffs."""

from __future__ import annotations

import hashlib
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from jwcrypto import jwk, jws

from shared.ledger.chain import check_chain
from shared.ledger.digest import Row, canonical_row, readings_digest
from shared.ledger.keys import KeyFileError, add_key, load_keyring
from shared.ledger.payload import changes
from shared.ledger.signing import VerificationError, sign, statement_hash, verify

T0 = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)


def test_a_digest_row_is_the_documented_canonical_json_line() -> None:
    row = Row("plant.net_output", T0 + timedelta(microseconds=250_000), 480.5, 0x80000000)
    assert canonical_row(row) == b'["plant.net_output","2026-06-01T10:00:00.250000Z",480.5,2147483648]\n'
    assert canonical_row(Row("a", T0, 480.0, 0)) == b'["a","2026-06-01T10:00:00.000000Z",480,0]\n'


def test_the_digest_orders_rows_by_signal_then_time_whatever_order_they_come_in() -> None:
    rows = [Row("b", T0, 1.0, 0), Row("a", T0 + timedelta(seconds=1), 2.0, 0), Row("a", T0, 3.0, 0)]
    expected = hashlib.sha256(b"".join(canonical_row(r) for r in (rows[2], rows[1], rows[0]))).hexdigest()
    got = readings_digest(rows)
    assert got.rows == 3 and got.digest == "sha256:" + expected
    assert readings_digest(reversed(rows)) == got
    assert readings_digest(rows[:2]).digest != got.digest


def test_a_rotated_key_file_keeps_old_keys_published_and_private(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "signing.json"
    with pytest.raises(KeyFileError):
        load_keyring(path)
    old = add_key(path, T0)
    token = sign({"n": 1}, old)
    new = add_key(path, T0 + timedelta(days=1))
    ring = load_keyring(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ring.active.kid == new.kid != old.kid
    published = ring.public_jwks()
    assert [k["kid"] for k in published["keys"]] == [old.kid, new.kid]
    assert all("d" not in k for k in published["keys"])
    assert verify(token, published) == {"n": 1}


def test_signatures_verify_with_jwcrypto_and_fail_on_one_changed_byte_or_an_unknown_key(tmp_path: Path) -> None:
    key = add_key(tmp_path / "k.json", T0)
    token = sign({"b": [1, 2.5], "a": "ž"}, key)
    published = load_keyring(tmp_path / "k.json").public_jwks()
    obj = jws.JWS()
    obj.deserialize(token)
    obj.verify(jwk.JWK(**published["keys"][0]), alg="EdDSA")
    assert obj.payload == '{"a":"ž","b":[1,2.5]}'.encode()
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    with pytest.raises(VerificationError) as bad:
        verify(flipped, published)
    assert bad.value.code == "bad_signature"
    other = add_key(tmp_path / "other.json", T0)
    with pytest.raises(VerificationError) as unknown:
        verify(sign({"a": 1}, other), published)
    assert unknown.value.code == "unknown_signing_key"
    assert statement_hash(token) != statement_hash(flipped)


def _chain(n: int) -> list[tuple[str, dict]]:
    out: list[tuple[str, dict]] = []
    previous = None
    for seq in range(1, n + 1):
        digest = f"sha256:{seq:064x}"
        out.append((digest, {"sequence": seq, "previous": previous}))
        previous = digest
    return out


def test_the_chain_detects_a_removed_or_relinked_statement() -> None:
    chain = _chain(4)
    assert check_chain(chain) is None
    assert check_chain(chain[2:]) is None  # a slice from the middle (`--since`) is not a break
    removed = check_chain(chain[:1] + chain[2:])
    assert removed is not None and removed.sequence == 3 and "missing" in removed.message
    relinked = [chain[0], (chain[1][0], {"sequence": 2, "previous": "sha256:" + "0" * 64})]
    assert check_chain(relinked) is not None


def test_changes_list_old_and_new_values_and_ignore_placement() -> None:
    old = {
        "revision": 1,
        "sequence": 3,
        "issued_at": "x",
        "delivered_mw": 470.0,
        "readings_digest": "sha256:a",
        "periods": [{"coverage": 0.5}, {"coverage": 1.0}],
    }
    new = {
        **old,
        "revision": 2,
        "sequence": 9,
        "issued_at": "y",
        "delivered_mw": 455.5,
        "periods": [{"coverage": 0.5}, {"coverage": 0.9}],
    }
    assert changes(old, new) == [
        {"field": "delivered_mw", "old": 470.0, "new": 455.5},
        {"field": "periods[1].coverage", "old": 1.0, "new": 0.9},
    ]
    assert changes(old, {**old, "revision": 5, "previous": "z"}) == []
