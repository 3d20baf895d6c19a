"""Whatever an SBI service sends, its parsers answer with values or a DeviceError."""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from appliance.hal._errors import DeviceError
from appliance.hal._sbi_protocol import parse_capture, parse_discovery, parse_info
from appliance.hal._sbi_trust import Trust, b64url, decode_jws
from sim._sbi_pki import compact, device_pki

FUZZ = settings(max_examples=150, deadline=None)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["0", "101", "111", "Ready", "Busy", "Finger", "Left Thumb", "1"]),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _token(payload: Any) -> str:
    return f"{_b64(b'{}')}.{_b64(json.dumps(payload).encode())}.{_b64(b'sig')}"


# Structurally plausible answers with arbitrary values where it hurts.
capture_shaped = st.builds(
    lambda data, error, extra: {
        "biometrics": [
            {"specVersion": "0.9.5", "data": data, "hash": "AB", "error": error, **extra}
        ]
    },
    data=st.one_of(st.text(max_size=40), json_values.map(_token)),
    error=st.one_of(json_values, st.just({"errorCode": "0", "errorInfo": "Success"})),
    extra=st.dictionaries(st.sampled_from(["sessionKey", "thumbprint"]), json_values, max_size=2),
)
info_shaped = st.builds(
    lambda info, error: [{"deviceInfo": info, "error": error}],
    info=st.one_of(st.text(max_size=40), json_values.map(_token)),
    error=json_values,
)
discovery_shaped = st.lists(
    st.fixed_dictionaries(
        {
            "deviceId": json_values,
            "deviceStatus": json_values,
            "digitalId": st.one_of(
                st.text(max_size=30), json_values.map(lambda v: _b64(json.dumps(v).encode()))
            ),
        },
        optional={"deviceSubId": json_values, "specVersion": json_values, "purpose": json_values},
    ),
    max_size=3,
)


def _never_crashes(parse: Callable[[bytes], object], body: bytes) -> None:
    with contextlib.suppress(DeviceError):  # the one way a parser may refuse
        parse(body)


@FUZZ
@given(st.binary(max_size=512))
def test_parsers_survive_arbitrary_bytes(body: bytes) -> None:
    _never_crashes(lambda b: parse_discovery(b, device="d", port=4501), body)
    _never_crashes(lambda b: parse_info(b, device="d"), body)
    _never_crashes(lambda b: parse_capture(b, device="d"), body)


@FUZZ
@given(json_values)
def test_parsers_survive_arbitrary_json(document: Any) -> None:
    body = json.dumps(document).encode()
    _never_crashes(lambda b: parse_discovery(b, device="d", port=4501), body)
    _never_crashes(lambda b: parse_info(b, device="d"), body)
    _never_crashes(lambda b: parse_capture(b, device="d"), body)


@FUZZ
@given(capture_shaped)
def test_capture_parser_survives_plausible_answers(document: Any) -> None:
    _never_crashes(lambda b: parse_capture(b, device="d"), json.dumps(document).encode())


@FUZZ
@given(info_shaped, discovery_shaped)
def test_status_parsers_survive_plausible_answers(info: Any, discovery: Any) -> None:
    _never_crashes(lambda b: parse_info(b, device="d"), json.dumps(info).encode())
    _never_crashes(
        lambda b: parse_discovery(b, device="d", port=4501), json.dumps(discovery).encode()
    )


_PKI = device_pki()
TRUST = Trust(anchors=[_PKI.mosip_root], intermediates=[_PKI.provider_ca])


@FUZZ
@given(st.text(max_size=200), json_values)
def test_jws_decoding_survives_anything(token: str, header: Any) -> None:
    for candidate in (token, f"{_b64(json.dumps(header).encode())}.{_b64(b'{}')}.{token}"):
        for trust in (Trust(), TRUST):
            with contextlib.suppress(DeviceError):
                decode_jws(candidate, device="d", trust=trust)
    with contextlib.suppress(DeviceError):
        b64url(token, device="d")


def test_deeply_nested_json_is_garbage_not_a_crash() -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    _never_crashes(lambda b: parse_capture(b, device="d"), body)


def test_a_genuine_signature_verifies_and_a_forged_one_does_not() -> None:
    token = _PKI.device.sign(compact({"hello": "world"}))
    assert decode_jws(token, device="d", trust=TRUST) == {"hello": "world"}

    header, _payload, signature = token.split(".")
    forged = f"{header}.{_b64(json.dumps({'hello': 'mars'}).encode())}.{signature}"
    with pytest.raises(DeviceError) as caught:
        decode_jws(forged, device="d", trust=TRUST)
    assert caught.value.code == "untrusted"
