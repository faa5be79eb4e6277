"""Standard Webhooks verification in the sink: vectors computed here with hmac/hashlib, never with the sink's code."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from services.sink.verify import SeenIds, VerificationError, secret_key, verify

KEY = bytes(range(32))
SECRET = "whsec_" + base64.b64encode(KEY).decode()
BODY = b'{"type":"alert.firing","data":{"severity":"critical"}}'
NOW = 1_764_000_000


def sign(msg_id: str, ts: int, body: bytes, key: bytes = KEY) -> str:
    mac = hmac.new(key, msg_id.encode() + b"." + str(ts).encode() + b"." + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def headers(*, msg_id: str = "msg_1", ts: int = NOW, signature: str | None = None) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": signature if signature is not None else sign(msg_id, ts, BODY),
    }


def test_a_correctly_signed_fresh_delivery_verifies() -> None:
    delivery = verify(secret_key(SECRET), headers(), BODY, NOW)
    assert (delivery.msg_id, delivery.timestamp) == ("msg_1", NOW)


def test_one_matching_signature_among_several_is_enough() -> None:
    offered = f"v1,{base64.b64encode(b'x' * 32).decode()} {sign('msg_1', NOW, BODY)}"
    assert verify(secret_key(SECRET), headers(signature=offered), BODY, NOW).msg_id == "msg_1"


def test_the_secret_prefix_is_optional() -> None:
    assert secret_key(base64.b64encode(KEY).decode()) == KEY


@pytest.mark.parametrize(
    ("case", "hdrs", "body", "now", "code"),
    [
        ("tampered body", headers(), BODY + b" ", NOW, "invalid_signature"),
        ("other key", headers(signature=sign("msg_1", NOW, BODY, key=b"k" * 32)), BODY, NOW, "invalid_signature"),
        ("id swapped", headers(msg_id="msg_2", signature=sign("msg_1", NOW, BODY)), BODY, NOW, "invalid_signature"),
        (
            "timestamp swapped",
            headers(ts=NOW + 1, signature=sign("msg_1", NOW, BODY)),
            BODY,
            NOW + 1,
            "invalid_signature",
        ),
        ("v2 label", headers(signature="v2," + sign("msg_1", NOW, BODY)[3:]), BODY, NOW, "invalid_signature"),
        ("too old", headers(), BODY, NOW + 301, "stale_timestamp"),
        ("too far ahead", headers(), BODY, NOW - 301, "stale_timestamp"),
        ("no signature", {"webhook-id": "m", "webhook-timestamp": str(NOW)}, BODY, NOW, "missing_headers"),
        ("timestamp not a number", headers() | {"webhook-timestamp": "soon"}, BODY, NOW, "invalid_timestamp"),
    ],
)
def test_forged_stale_or_incomplete_deliveries_are_refused(
    case: str, hdrs: dict[str, str], body: bytes, now: int, code: str
) -> None:
    with pytest.raises(VerificationError) as caught:
        verify(secret_key(SECRET), hdrs, body, now)
    assert caught.value.code == code, case


def test_the_tolerance_edge_is_inclusive() -> None:
    assert verify(secret_key(SECRET), headers(), BODY, NOW + 300).msg_id == "msg_1"


def test_a_secret_that_is_not_base64_is_refused() -> None:
    with pytest.raises(ValueError, match="base64"):
        secret_key("whsec_not base64!")


def test_seen_ids_report_each_id_once_and_forget_the_least_recently_offered() -> None:
    seen = SeenIds(capacity=2)
    # Offering "a" again refreshes it, so "c" pushes "b" out: "a" is still known, "b" is new again.
    assert [seen.first_time(i) for i in ("a", "b", "a", "c", "a", "b")] == [True, True, False, True, False, True]


def test_deliveries_signed_by_the_alerts_service_verify_in_the_sink() -> None:
    # Across the wire format only: the alerts service signs, the sink (which never imports it) verifies.
    from services.alerts.signing import new_message_id, new_secret, signed_headers

    secret, msg_id = new_secret(), new_message_id()
    assert verify(secret_key(secret), signed_headers(secret, msg_id, NOW, BODY), BODY, NOW).msg_id == msg_id
