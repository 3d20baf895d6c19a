"""Derive the SBI answer vectors in answers/ from MockMDS's own files in mockmds/.

MockMDS (mosip-mock-services) is Java 21 with Maven dependencies that this machine cannot
fetch, so its answers are not recorded from a running MockMDS: they are built here from its
files (device JSON, keys, ISO records, error messages) the way its source builds them. Each
answer names the Java method whose behaviour it follows. This script shares no code with
the station or its simulator (neither is imported), so that the simulator is held to
MockMDS's shapes, not to its own.

    .venv/bin/python tests/vectors/sbi/derive.py

Every answer is reproducible byte for byte (RSA PKCS#1 v1.5 signatures are deterministic,
and the time is fixed) except the Auth capture, whose session key is random at each run.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import pkcs12

HERE = Path(__file__).parent
MOCKMDS = HERE / "mockmds"
OUT = HERE / "answers"
HOST, PORT = "127.0.0.1", 4600
"""MockMDS's address (server.serveripaddress) and the last port of its range
(server.maxport): a test serving these answers must listen where their callbackId points,
and no simulator takes the last port of the range while fewer than 100 run."""
TIME = "2022-01-15T10:00:00Z"
"""Inside every MockMDS certificate's validity: its FTM root ends on 2022-06-10."""

# --------------------------------------------------------------------------- MockMDS's facts


def _messages() -> dict[str, str]:
    # application.properties, the file MockMDS loads from its working directory.
    messages = {}
    for line in (MOCKMDS / "application.properties").read_text().splitlines():
        key, _, value = line.partition("=")
        if key.startswith("mds_ERROR_") and key.endswith("_msg_en"):
            messages[key[len("mds_ERROR_") : -len("_msg_en")]] = value
    return messages


MESSAGES = _messages()
CORS = '"OPTIONS, RCAPTURE, CAPTURE, MOSIPDINFO, MOSIPDISC, STREAM, GET, POST"'
"""cors.headers.allowed.methods, quotes and all (java.util.Properties keeps them)."""

DEVICES = {
    # folder, key store alias (its password too), FTM key store alias
    "Face": ("face", "mosipface", None),
    "Slap": ("finger-slap", "mosipfingerslap", None),
    "Single": ("finger-single", "mosipfingersingle", "mosipfingersingleftm"),
    "Double": ("iris-double", "mosipirisdouble", None),
}


def json_text(document: Any) -> str:
    """Jackson's ObjectMapper: compact, properties in their declared order."""
    return json.dumps(document, separators=(",", ":"))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def error(code: str, extra: str = "") -> dict[str, str]:
    # SBIJsonInfo.getErrorDescription: "No Description available." for a code without one.
    info = MESSAGES.get(code) or "No Description available."
    return {"errorCode": code, "errorInfo": f"{info} {extra}".strip()}


class Signer:
    def __init__(self, alias: str) -> None:
        data = (MOCKMDS / "keys" / f"{alias}.p12").read_bytes()
        key, certificate, _ = pkcs12.load_key_and_certificates(data, alias.encode())
        assert isinstance(key, rsa.RSAPrivateKey)
        assert certificate is not None
        self.key, self.certificate = key, certificate

    def jws(self, payload: bytes) -> str:
        # JwtUtility.getJwt (jose4j): x5c (this certificate alone), alg, typ.
        header = {
            "x5c": [
                base64.b64encode(self.certificate.public_bytes(serialization.Encoding.DER)).decode()
            ],
            "alg": "RS256",
            "typ": "JWT",
        }
        signing_input = f"{b64url(json_text(header).encode())}.{b64url(payload)}"
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{b64url(signature)}"


def device_json(subtype: str, name: str) -> dict[str, Any]:
    folder = DEVICES[subtype][0]
    document: dict[str, Any] = json.loads(
        (MOCKMDS / "devices" / folder / f"{name}.json").read_text()
    )
    return document


def digital_id(subtype: str) -> bytes:
    # SBIDeviceHelper.getDigitalId: the file, dateTime set to now; the DigitalId DTO's order.
    file = device_json(subtype, "DigitalId")
    fields = (
        "serialNo",
        "make",
        "model",
        "type",
        "deviceSubType",
        "deviceProviderId",
        "deviceProvider",
    )
    return json_text({**{k: file[k] for k in fields}, "dateTime": TIME}).encode()


STATUS_ERRORS = {"Ready": "0", "Busy": "111", "Not Ready": "110", "Not Registered": "100"}


def discovery_entry(subtype: str, purpose: str, status: str) -> dict[str, Any]:
    # SBIDeviceHelper.getDiscoverInfo: the file, then digitalId (unsigned), deviceStatus,
    # purpose, callbackId and error; a device not registered loses deviceId, deviceCode and
    # purpose. The DiscoverDto's order.
    file = device_json(subtype, "DeviceDiscovery")
    registered = status != "Not Registered"
    return {
        "deviceId": file["deviceId"] if registered else "",
        "deviceStatus": status,
        "certification": file["certification"],
        "serviceVersion": file["serviceVersion"],
        "callbackId": f"http://{HOST}:{PORT}/",
        "digitalId": b64url(digital_id(subtype)),
        "deviceCode": file["deviceCode"] if registered else "",
        "purpose": purpose if registered else "",
        "error": error(STATUS_ERRORS[status]),
        "specVersion": file["specVersion"],
        "deviceSubId": file["deviceSubId"],
    }


def info_entry(subtype: str, purpose: str, status: str) -> dict[str, Any]:
    # SBIDeviceHelper.getDeviceInfo and getDeviceInfoDto: the digital id signed by the FTM
    # key of an Auth device, by the device key otherwise; the info signed by the device key;
    # a device not registered sends both unsigned, without deviceId, deviceCode, purpose.
    _, alias, ftm = DEVICES[subtype]
    file = device_json(subtype, "DeviceInfo")
    registered = status != "Not Registered"
    if registered:
        signed_id = Signer(ftm if purpose == "Auth" and ftm else alias).jws(digital_id(subtype))
    else:
        signed_id = b64url(digital_id(subtype))
    info = {
        "specVersion": file["specVersion"],
        "env": file["env"],
        "digitalId": signed_id,
        "deviceId": file["deviceId"] if registered else "",
        "deviceCode": file["deviceCode"] if registered else "",
        "purpose": purpose if registered else "",
        "serviceVersion": file["serviceVersion"],
        "deviceStatus": status,
        "firmware": file["firmware"],
        "certification": file["certification"],
        "deviceSubId": file["deviceSubId"],
        "callbackId": f"http://{HOST}:{PORT}/",
    }
    payload = json_text(info).encode()
    token = Signer(alias).jws(payload) if registered else b64url(payload)
    return {"deviceInfo": token, "error": error(STATUS_ERRORS[status])}


def chain(previous: str, record: bytes) -> str:
    # SBIServiceResponse.getBiometricData: SHA-256 of the previous hash's bytes (SHA-256 of
    # "" when empty) followed by the record's SHA-256, in upper-case hex.
    previous_bytes = bytes.fromhex(previous) if previous else hashlib.sha256(b"").digest()
    return hashlib.sha256(previous_bytes + hashlib.sha256(record).digest()).hexdigest().upper()


def seal(record: bytes, timestamp: str, transaction_id: str) -> tuple[bytes, bytes, str]:
    # CryptoUtility.encrypt: AES-256-GCM, IV and AAD the last 12 and 16 bytes of
    # timestamp XOR transactionId (zero bytes prepended to the shorter); the AES key under
    # RSA-OAEP-SHA256 to the certificate; its thumbprint the SHA-256 of its DER, upper hex.
    certificate = x509.load_pem_x509_certificate(
        (MOCKMDS / "keys" / "MosipTestCert.pem").read_bytes()
    )
    a, b = timestamp.encode(), transaction_id.encode()
    width = max(len(a), len(b))
    mixed = bytes(x ^ y for x, y in zip(a.rjust(width, b"\0"), b.rjust(width, b"\0"), strict=True))
    key = os.urandom(32)
    sealed = AESGCM(key).encrypt(mixed[-12:], record, mixed[-16:])
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    public = certificate.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    thumbprint = certificate.fingerprint(hashes.SHA256()).hex().upper()
    return public.encrypt(key, oaep), sealed, thumbprint


def biometric(
    request: Mapping[str, Any],
    subtype: str,
    *,
    bio_sub_type: str | None,
    record: bytes,
    previous: str,
    quality: float,
) -> dict[str, Any]:
    # SBIServiceResponse.getBiometricData: a BioMetricsDto with a BioMetricsDataDto inside,
    # both without their null fields (JsonInclude NON_NULL), in their declared order.
    _, alias, ftm = DEVICES[subtype]
    bio = request["bio"][0]
    auth = request["purpose"] == "Auth"
    info = device_json(subtype, "DeviceInfo")
    signed_id = Signer(ftm if auth and ftm else alias).jws(digital_id(subtype))
    data: dict[str, Any] = {
        "digitalId": signed_id,
        "deviceCode": info["deviceCode"],
        "deviceServiceVersion": info["serviceVersion"],
        "bioType": bio["type"],
    }
    if bio_sub_type is not None:
        data["bioSubType"] = bio_sub_type
    data |= {"purpose": request["purpose"], "env": request["env"]}
    entry: dict[str, Any] = {"specVersion": request["specVersion"]}
    if auth:
        # The request's domainUri never reaches MockMDS (@JsonIgnore): "null" + "".
        data["domainUri"] = "null"
        session_key, sealed, thumbprint = seal(record, TIME, request["transactionId"])
        data["bioValue"] = b64url(sealed)
    else:
        data["bioValue"] = b64url(record)
    data |= {
        "transactionId": request["transactionId"],
        "timestamp": TIME,
        "requestedScore": str(float(int(bio["requestedScore"]))),
        "qualityScore": str(quality),
    }
    entry["data"] = Signer(alias).jws(json_text(data).encode())
    entry["hash"] = chain(previous, record)
    if auth:
        entry["sessionKey"] = b64url(session_key)
        entry["thumbprint"] = thumbprint
    entry["error"] = error("0")
    return entry


def capture_error(code: str, spec_version: str, *, auth_fields: bool) -> str:
    # SBIJsonInfo.getCaptureErrorJson: one biometric, data and hash empty; sessionKey and
    # thumbprint too when called with isRCapture false.
    entry: dict[str, Any] = {"specVersion": spec_version, "data": "", "hash": ""}
    if auth_fields:
        entry |= {"sessionKey": "", "thumbprint": ""}
    entry["error"] = error(code)
    return json_text({"biometrics": [entry]})


def framed(body: str, status: str = "200 OK") -> bytes:
    # SBIResponseInfo.generateResponse / generateErrorResponse: Content-Length in
    # characters, two CRLFs after the body.
    head = (
        f"HTTP/1.1 {status}\r\n"
        "Access-Control-Allow-Headers:DNT,X-Mx-ReqToken,Keep-Alive,User-Agent,X-Requested-With,"
        "If-Modified-Since,Cache-Control,Content-Type,X-PINGOTHER,Authorization\r\n"
        "Access-Control-Allow-Origin: *\r\n"
        f"Access-Control-Allow-Methods: {CORS}\r\n"
        "Access-Control-Allow-Credentials: true\r\n"
        "CACHE-CONTROL:no-cache\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Content-Type: application/json\r\n"
        f"LOCATION: HTTP://{HOST}:{PORT}/\r\n"
        "Connection: close\r\n\r\n"
    )
    return (head + body + "\r\n\r\n").encode()


# --------------------------------------------------------------------------- the vectors


def capture_request(
    *,
    purpose: str,
    transaction_id: str,
    bio_type: str,
    device_id: str,
    sub_id: str,
    subtypes: list[str],
    exceptions: list[str] | None,
) -> dict[str, Any]:
    """A request as the station sends it (for Auth: no exception, a domainUri)."""
    bio: dict[str, Any] = {
        "type": bio_type,
        "count": str(len(subtypes) or 1),
        "bioSubType": subtypes,
    }
    if exceptions is not None:
        bio["exception"] = exceptions
    bio |= {
        "requestedScore": "60",
        "deviceId": device_id,
        "deviceSubId": sub_id,
        "previousHash": hashlib.sha256(b"").hexdigest().upper(),
    }
    request: dict[str, Any] = {
        "env": "Staging",
        "purpose": purpose,
        "specVersion": "0.9.5",
        "timeout": "10000",
        "captureTime": TIME,
    }
    if purpose == "Auth":
        request["domainUri"] = "https://ida.example.mosip/"
    return request | {"transactionId": transaction_id, "bio": [bio], "customOpts": None}


def record(name: str) -> bytes:
    return (MOCKMDS / "profile" / f"{name}.iso").read_bytes()


def vectors() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def add(
        name: str,
        method: str,
        path: str,
        answer: bytes,
        *,
        service: dict[str, str],
        source: str,
        request: Any = None,
    ) -> None:
        """`service`: the device's purpose and type, and its condition: ready, busy,
        not-ready, not-registered, no-finger (nothing presented before the timeout), or one
        the simulator has no way into (race: a second capture between another's checks;
        broken: a device whose files MockMDS could not read)."""
        out.append(
            {
                "name": name,
                "method": method,
                "path": path,
                "request": request,
                "service": service,
                "source": source,
            }
        )
        (OUT / f"{name}.http").write_bytes(answer)

    registration = {"purpose": "Registration", "condition": "ready"}
    auth = {"purpose": "Auth", "condition": "ready"}
    for subtype, kind in (("Slap", "Finger"), ("Double", "Iris"), ("Face", "Face")):
        service = registration | {"type": kind}
        add(
            f"discovery-{kind.lower()}",
            "MOSIPDISC",
            "/device",
            framed(json_text([discovery_entry(subtype, "Registration", "Ready")])),
            service=service,
            request={"type": kind},
            source="SBIServiceResponse.processDeviceDicoveryInfo",
        )
        add(
            f"info-{kind.lower()}",
            "MOSIPDINFO",
            "/info",
            framed(json_text([info_entry(subtype, "Registration", "Ready")])),
            service=service,
            source="SBIServiceResponse.processDeviceInfo",
        )
    service = auth | {"type": "Finger"}
    add(
        "discovery-auth-finger",
        "MOSIPDISC",
        "/device",
        framed(json_text([discovery_entry("Single", "Auth", "Ready")])),
        service=service,
        request={"type": "Finger"},
        source="SBIServiceResponse.processDeviceDicoveryInfo (Auth: the single-finger scanner)",
    )
    add(
        "info-auth-finger",
        "MOSIPDINFO",
        "/info",
        framed(json_text([info_entry("Single", "Auth", "Ready")])),
        service=service,
        source="SBIServiceResponse.processDeviceInfo (Auth: FTM-signed digitalId)",
    )
    for status in ("Busy", "Not Ready", "Not Registered"):
        slug = status.lower().replace(" ", "-")
        service = registration | {"type": "Finger", "condition": slug}
        add(
            f"discovery-finger-{slug}",
            "MOSIPDISC",
            "/device",
            framed(json_text([discovery_entry("Slap", "Registration", status)])),
            service=service,
            request={"type": "Finger"},
            source="SBIDeviceHelper.getDiscoverInfo, deviceStatus " + status,
        )
        add(
            f"info-finger-{slug}",
            "MOSIPDINFO",
            "/info",
            framed(json_text([info_entry("Slap", "Registration", status)])),
            service=service,
            source="SBIDeviceHelper.getDeviceInfoDto, deviceStatus " + status,
        )
    add(
        "discovery-no-device",
        "MOSIPDISC",
        "/device",
        framed(json_text([{"error": error("503")}])),
        service=registration | {"type": "Face"},
        request={"type": "Finger"},
        source="SBIServiceResponse.processDeviceDicoveryInfo: no device of the type asked",
    )
    add(
        "discovery-bad-type",
        "MOSIPDISC",
        "/device",
        framed(json_text([{"error": error("502")}])),
        service=registration | {"type": "Face"},
        request={"type": "Palm"},
        source="SBIServiceResponse.processDeviceDicoveryInfo: a type it does not know",
    )
    add(
        "info-no-device",
        "MOSIPDINFO",
        "/info",
        framed(json_text([{"error": error("106")}])),
        service=registration | {"type": "Face", "condition": "broken"},
        source="SBIServiceResponse.processDeviceInfo: no device helper answered",
    )
    add(
        "unknown-method",
        "FETCH",
        "/device",
        framed(json_text([{"error": error("500")}]), "405 OK"),
        service=registration | {"type": "Face"},
        source="SBIWorker.run: a method not in cors.headers.allowed.methods",
    )

    # Registration captures, each starting a chain (previousHash: SHA-256 of "").
    face = capture_request(
        purpose="Registration",
        transaction_id="4a1f0b7e-0d6e-4c8e-9d53-1f0c2b3d4e01",
        bio_type="Face",
        device_id="3",
        sub_id="0",
        subtypes=[],
        exceptions=[],
    )
    add(
        "rcapture-face",
        "RCAPTURE",
        "/capture",
        framed(
            json_text(
                {
                    "biometrics": [
                        biometric(
                            face,
                            "Face",
                            bio_sub_type=None,
                            record=record("Face"),
                            previous=face["bio"][0]["previousHash"],
                            quality=44.0,
                        )
                    ]
                }
            )
        ),
        service=registration | {"type": "Face"},
        request=face,
        source="SBIServiceResponse.processRCaptureInfo, getBiometricData (face)",
    )
    slap = capture_request(
        purpose="Registration",
        transaction_id="4a1f0b7e-0d6e-4c8e-9d53-1f0c2b3d4e02",
        bio_type="Finger",
        device_id="2",
        sub_id="1",
        subtypes=["Left MiddleFinger", "Left LittleFinger"],
        exceptions=["Left IndexFinger", "Left RingFinger"],
    )
    first = biometric(
        slap,
        "Slap",
        bio_sub_type="Left MiddleFinger",
        record=record("Left_Middle"),
        previous=slap["bio"][0]["previousHash"],
        quality=44.0,
    )
    second = biometric(
        slap,
        "Slap",
        bio_sub_type="Left LittleFinger",
        record=record("Left_Little"),
        previous=first["hash"],
        quality=44.0,
    )
    add(
        "rcapture-slap-two-missing",
        "RCAPTURE",
        "/capture",
        framed(json_text({"biometrics": [first, second]})),
        service=registration | {"type": "Finger"},
        request=slap,
        source="SBIServiceResponse.processRCaptureInfo: left slap, index and ring declared missing",
    )
    iris = capture_request(
        purpose="Registration",
        transaction_id="4a1f0b7e-0d6e-4c8e-9d53-1f0c2b3d4e03",
        bio_type="Iris",
        device_id="1",
        sub_id="3",
        subtypes=["Right"],
        exceptions=["Left"],
    )
    add(
        "rcapture-iris-one-eye",
        "RCAPTURE",
        "/capture",
        framed(
            json_text(
                {
                    "biometrics": [
                        biometric(
                            iris,
                            "Double",
                            bio_sub_type="Right",
                            record=record("Right_Iris"),
                            previous=iris["bio"][0]["previousHash"],
                            quality=44.0,
                        )
                    ]
                }
            )
        ),
        service=registration | {"type": "Iris"},
        request=iris,
        source="SBIServiceResponse.processRCaptureInfo: sub id 3, left eye an exception",
    )
    one_eye_old = capture_request(
        purpose="Registration",
        transaction_id="4a1f0b7e-0d6e-4c8e-9d53-1f0c2b3d4e04",
        bio_type="Iris",
        device_id="1",
        sub_id="2",
        subtypes=["Right"],
        exceptions=["Left"],
    )
    add(
        "rcapture-iris-109",
        "RCAPTURE",
        "/capture",
        framed(capture_error("109", "", auth_fields=False)),
        service=registration | {"type": "Iris"},
        request=one_eye_old,
        source="SBIServiceResponse.processRCaptureInfo: sub id 2 with an exception",
    )
    add(
        "rcapture-timeout-701",
        "RCAPTURE",
        "/capture",
        framed(capture_error("701", "0.9.5", auth_fields=False)),
        service=registration | {"type": "Face", "condition": "no-finger"},
        request=face,
        source="SBIServiceResponse.processRCaptureInfo: nothing captured before the timeout",
    )
    add(
        "rcapture-busy-703",
        "RCAPTURE",
        "/capture",
        framed(capture_error("703", "", auth_fields=False)),
        service=registration | {"type": "Face", "condition": "busy"},
        request=face,
        source="SBIServiceResponse.processRCaptureInfo: a capture already in progress",
    )
    add(
        "rcapture-not-registered-100",
        "RCAPTURE",
        "/capture",
        framed(capture_error("100", "", auth_fields=False)),
        service=registration | {"type": "Face", "condition": "not-registered"},
        request=face,
        source="SBIServiceResponse.processRCaptureInfo: device not registered",
    )

    finger = capture_request(
        purpose="Auth",
        transaction_id="4a1f0b7e-0d6e-4c8e-9d53-1f0c2b3d4e05",
        bio_type="Finger",
        device_id="4",
        sub_id="0",
        subtypes=["Right IndexFinger"],
        exceptions=None,
    )
    add(
        "capture-auth-finger",
        "CAPTURE",
        "/capture",
        framed(
            json_text(
                {
                    "biometrics": [
                        biometric(
                            finger,
                            "Single",
                            bio_sub_type="Right IndexFinger",
                            record=record("Right_Index"),
                            previous=finger["bio"][0]["previousHash"],
                            quality=44.0,
                        )
                    ]
                }
            )
        ),
        service=auth | {"type": "Finger"},
        request=finger,
        source="SBIServiceResponse.processCaptureInfo, getBiometricData (sealed for MosipTestCert)",
    )
    add(
        "capture-timeout-801",
        "CAPTURE",
        "/capture",
        framed(capture_error("801", "0.9.5", auth_fields=True)),
        service=auth | {"type": "Finger", "condition": "no-finger"},
        request=finger,
        source="SBIServiceResponse.processCaptureInfo: nothing captured before the timeout",
    )
    add(
        "capture-busy-803",
        "CAPTURE",
        "/capture",
        framed(capture_error("803", "", auth_fields=True)),
        service=auth | {"type": "Finger", "condition": "race"},
        request=finger,
        source="SBIServiceResponse.processCaptureInfo: an auth capture already in progress",
    )
    add(
        "capture-busy-111",
        "CAPTURE",
        "/capture",
        framed(capture_error("111", "", auth_fields=True)),
        service=auth | {"type": "Finger", "condition": "busy"},
        request=finger,
        source="SBIServiceResponse.processCaptureInfo: deviceStatus Busy",
    )
    return out


def main() -> None:
    OUT.mkdir(exist_ok=True)
    manifest = vectors()
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"{len(manifest)} answers in {OUT}")


if __name__ == "__main__":
    main()
