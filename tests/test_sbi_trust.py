"""Whom the SBI driver trusts: certificate chains to the configured roots, checked in full.

A device key's certificate is issued by its provider's CA under the country's MOSIP root;
an Auth (L1) device's digital id is signed by its FTM chip, under the FTM provider's CA
under the FTM root (SBI specification, "Device Trust", "Keys", "Signature"). The simulator
signs with a PKI of that shape (`sim._sbi_pki`); MockMDS's own keys, in
tests/vectors/sbi/mockmds/keys, have their device certificates straight under the root.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from appliance.hal import (
    DeviceFault,
    DeviceState,
    Finger,
    SbiFaceCamera,
    SbiFaceCameraConfig,
    SbiSingleFingerScanner,
    SbiSingleFingerScannerConfig,
)
from appliance.hal._sbi_protocol import parse_info
from appliance.hal._sbi_trust import Trust, decode_jws
from sim._base import Timing
from sim._sbi_pki import Signer, compact, device_pki
from sim.sbi import SbiKind, SbiSimulator

from .test_sbi_vectors import MOCKMDS, Http, answer

FAST = {"capture_timeout_s": 0.5, "retries": 0, "connect_timeout_s": 3.0}


@pytest.fixture
async def face_sim() -> Any:
    sim = SbiSimulator(
        name="trust-face", kind=SbiKind.FACE, seed=uuid.uuid4().int, timing=Timing(scale=0)
    )
    await sim.start()
    yield sim
    await sim.stop()


@pytest.fixture
async def finger_sim() -> Any:
    sim = SbiSimulator(
        name="trust-finger",
        kind=SbiKind.FINGER_SINGLE,
        seed=uuid.uuid4().int,
        timing=Timing(scale=0),
    )
    await sim.start()
    yield sim
    await sim.stop()


def _camera(sim: SbiSimulator, **overrides: Any) -> SbiFaceCamera:
    config = SbiFaceCameraConfig.model_validate({**sim.config_overlay(), **FAST, **overrides})
    return SbiFaceCamera(name="camera", config=config)


def _pem(tmp_path: Path, name: str, *certificates: x509.Certificate) -> str:
    path = tmp_path / f"{name}.pem"
    path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates))
    return str(path)


def _signer_of(token: str) -> x509.Certificate:
    header = json.loads(base64.urlsafe_b64decode(token.split(".", maxsplit=1)[0] + "=="))
    return x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0]))


# --------------------------------------------------------------------------- the chains that hold


async def test_a_device_certificate_under_a_provider_ca_under_the_mosip_root_is_trusted(
    face_sim: SbiSimulator,
) -> None:
    camera = _camera(face_sim)  # anchors: the roots; intermediates: the provider CAs
    pki = device_pki()

    await camera.connect()
    result = await camera.capture_face()

    assert camera.status.state is DeviceState.READY
    assert result.captures
    # Three links, not a certificate an anchor signed directly.
    assert pki.device.certificate.issuer == pki.provider_ca.subject
    assert pki.provider_ca.issuer == pki.mosip_root.subject
    assert pki.mosip_root not in (pki.device.certificate, pki.provider_ca)


async def test_an_auth_devices_digital_id_signed_by_its_ftm_chip_is_trusted(
    finger_sim: SbiSimulator,
) -> None:
    config = SbiSingleFingerScannerConfig.model_validate({**finger_sim.config_overlay(), **FAST})
    scanner = SbiSingleFingerScanner(name="scanner", config=config)
    pki = device_pki()

    await scanner.connect()
    result = await scanner.capture_finger(Finger.RIGHT_INDEX)

    assert scanner.status.state is DeviceState.READY
    assert result.captures
    info = json.loads(finger_sim._info())[0]  # what the device signed, as it sent it
    digital_id = decode_jws(info["deviceInfo"], device="d")["digitalId"]  # type: ignore[index]
    assert _signer_of(digital_id) == pki.chip.certificate
    assert pki.chip.certificate.issuer == pki.ftm_ca.subject
    assert pki.ftm_ca.issuer == pki.ftm_root.subject


async def test_a_station_may_trust_one_provider_ca_alone(
    face_sim: SbiSimulator, tmp_path: Path
) -> None:
    camera = _camera(
        face_sim,
        trust_anchors=[_pem(tmp_path, "provider", device_pki().provider_ca)],
        trust_intermediates=[],
    )

    await camera.connect()

    assert camera.status.state is DeviceState.READY


def test_mockmds_real_chain_is_trusted_while_its_certificates_are_valid() -> None:
    # MockMDS's face device: its certificate straight under its RootCA, 2021-2031.
    info = Http.parse(answer("info-face")).body
    root = x509.load_pem_x509_certificate((MOCKMDS / "keys" / "rootca.cer").read_bytes())

    (read,) = parse_info(info, device="d", trust=Trust(anchors=[root])).answers

    assert read.digital_id.model == "FACE01"


# --------------------------------------------------------------------------- the chains refused


def _ca(
    name: str,
    key: rsa.RSAPrivateKey,
    issuer: tuple[x509.Certificate, rsa.RSAPrivateKey] | None,
    *,
    ca: bool | None = True,
    days: int = 3650,
) -> x509.Certificate:
    now = datetime.now(UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    issuer_name, issuer_key = (subject, key) if issuer is None else (issuer[0].subject, issuer[1])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=2))
        .not_valid_after(now + timedelta(days=days))
    )
    if ca is not None:
        builder = builder.add_extension(
            x509.BasicConstraints(ca=ca, path_length=None), critical=True
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


async def test_a_certificate_from_another_root_is_refused(
    face_sim: SbiSimulator, tmp_path: Path
) -> None:
    stranger = _ca("Another Country Root", _key(), None)
    camera = _camera(face_sim, trust_anchors=[_pem(tmp_path, "stranger", stranger)])

    with pytest.raises(DeviceFault) as caught:
        await camera.connect()

    assert caught.value.code == "untrusted"
    assert camera.status.code == "untrusted"
    assert camera.status.state is DeviceState.ERROR


async def test_without_the_provider_ca_the_chain_does_not_reach_the_root(
    face_sim: SbiSimulator,
) -> None:
    camera = _camera(face_sim, trust_intermediates=[])  # the device sends its own certificate only

    with pytest.raises(DeviceFault) as caught:
        await camera.connect()

    assert caught.value.code == "untrusted"


def test_an_issuer_that_is_not_a_ca_breaks_the_chain() -> None:
    root_key, middle_key, leaf_key = _key(), _key(), _key()
    root = _ca("Root", root_key, None)
    for flag in (False, None):  # basicConstraints CA false, or none at all
        middle = _ca("Not a CA", middle_key, (root, root_key), ca=flag)
        leaf = _ca("Device", leaf_key, (middle, middle_key), ca=None)
        token = Signer(leaf_key, leaf).sign(compact({"hello": "world"}))
        trust = Trust(anchors=[root], intermediates=[middle])

        with pytest.raises(DeviceFault) as caught:
            decode_jws(token, device="d", trust=trust)

        assert caught.value.code == "untrusted"


def test_a_proper_three_link_chain_verifies_and_its_expiry_is_checked() -> None:
    root_key, middle_key, leaf_key = _key(), _key(), _key()
    root = _ca("Root", root_key, None)
    middle = _ca("Provider CA", middle_key, (root, root_key))
    leaf = _ca("Device", leaf_key, (middle, middle_key), ca=None, days=30)
    token = Signer(leaf_key, leaf).sign(compact({"hello": "world"}))

    assert decode_jws(token, device="d", trust=Trust(anchors=[root], intermediates=[middle])) == {
        "hello": "world"
    }
    later = Trust(
        anchors=[root], intermediates=[middle], clock=lambda: datetime.now(UTC) + timedelta(days=60)
    )
    with pytest.raises(DeviceFault) as caught:
        decode_jws(token, device="d", trust=later)
    assert caught.value.code == "untrusted"


def test_mockmds_ftm_root_has_expired_and_its_chips_are_refused_today() -> None:
    # MockMDS's rootcaftm.cer ends on 2022-06-10: an FTM-signed digital id under it is no
    # longer trusted, as a real station would refuse it.
    info = Http.parse(answer("info-auth-finger")).body
    roots = [
        x509.load_pem_x509_certificate((MOCKMDS / "keys" / name).read_bytes())
        for name in ("rootca.cer", "rootcaftm.cer")
    ]
    then = Trust(anchors=roots, clock=lambda: datetime(2022, 1, 15, tzinfo=UTC))
    assert parse_info(info, device="d", trust=then).answers

    with pytest.raises(DeviceFault) as caught:
        parse_info(info, device="d", trust=Trust(anchors=roots))

    assert caught.value.code == "untrusted"


def test_unsigned_info_from_a_device_that_says_it_is_registered_is_refused() -> None:
    info = json.loads(Http.parse(answer("info-finger-not-registered")).body)
    payload = json.loads(base64.urlsafe_b64decode(info[0]["deviceInfo"] + "=="))
    payload["deviceStatus"] = "Ready"  # unsigned, yet claiming to be registered
    info[0]["deviceInfo"] = (
        base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    )
    root = x509.load_pem_x509_certificate((MOCKMDS / "keys" / "rootca.cer").read_bytes())

    with pytest.raises(DeviceFault) as caught:
        parse_info(json.dumps(info).encode(), device="d", trust=Trust(anchors=[root]))

    assert caught.value.code == "untrusted"


# --------------------------------------------------------------------------- not registered


async def test_a_not_registered_device_is_read_as_such_with_anchors_and_captures_once_registered(
    face_sim: SbiSimulator,
) -> None:
    face_sim.set_status("Not Registered")
    camera = _camera(face_sim)

    await camera.connect()  # its info and digital id come unsigned

    assert (camera.status.state, camera.status.code) == (DeviceState.NOT_READY, "not_registered")
    with pytest.raises(DeviceFault) as caught:
        await camera.capture_face()
    assert caught.value.code == "not_registered"

    face_sim.set_status("Ready")  # the supplier registered it
    await camera.connect()
    assert camera.status.state is DeviceState.READY
    assert (await camera.capture_face()).captures
