"""The central population records (SIAK): what the station prints for someone recorded before.

Biometric recording happens once in a person's life. For an applicant whose record is
already Print Ready (PRR), the station skips recording and prints the card from the central
record: the face, the signature and the two chip fingers' ISO/IEC 19794-2 templates.

The Dukcapil data centre's interface is not specified to us: `PersonRecords` is the seam,
`SiakRecords` speaks the small HTTP API that `sim.siak` serves (docs/records.md), and
`NoRecords` stands in when `[siak] url` is not configured. An answer is trusted in nothing:
whatever is not a whole, well-formed record for the NIK asked is `RecordsUnavailable`, never
a half-filled card.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import re
from dataclasses import dataclass
from types import TracebackType
from typing import Annotated, Final, Literal, Protocol, Self
from urllib.parse import urlsplit

import httpx
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from appliance._text import Text
from appliance.card import FingerTemplateRecord
from appliance.domain import mask_nik
from appliance.fingerprint import decode_iso19794_2
from appliance.logs import get_logger

from ._errors import Unavailable

log = get_logger(__name__)

_NIK: Final = re.compile(r"[0-9]{16}")
_HOST_NAME: Final = re.compile(  # RFC 1123 labels, dot-separated
    r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*\.?"
)
_PNG_MAGIC: Final = b"\x89PNG\r\n\x1a\n"
_MAX_ANSWER: Final = 4 * 1024 * 1024
"""Bytes: a record is two small images and two templates; more is not a record."""


def _service_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"}:
        raise ValueError("the records service URL must start with http:// or https://")
    host = parts.hostname or ""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not _HOST_NAME.fullmatch(host):
            raise ValueError(f"{host!r} is not an IP address or a host name") from None
    _ = parts.port  # raises ValueError for a port that is not 0-65535
    if parts.username is not None or parts.query or parts.fragment:
        # Credentials in a config file, and parameters the client would silently drop.
        raise ValueError("the records service URL takes no user, query or fragment")
    return url.rstrip("/")


class SiakSection(BaseModel):
    """`[siak]`: where the central records are; without `url`, nobody counts as recorded."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: Annotated[str, AfterValidator(_service_url)] | None = None
    """The records service, e.g. `http://127.0.0.1:4700` (a path prefix is kept)."""
    timeout_s: Annotated[float, Field(gt=0, le=60)] = 5.0
    """The whole look-up, connection to last byte."""


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class RecordedPerson:
    """The central record of someone recorded before: what their card is printed from."""

    nik: str
    face_image: bytes
    """PNG."""
    signature_image: bytes
    """PNG."""
    fingers: tuple[FingerTemplateRecord, FingerTemplateRecord]

    def __repr__(self) -> str:
        # A NIK must not reach a log unmasked, even through a careless repr; nor do the
        # images, which would fill it.
        positions = tuple(finger.position for finger in self.fingers)
        return f"RecordedPerson(nik={mask_nik(self.nik)!r}, fingers={positions})"


RecordsErrorCode = Literal[
    "records_unreachable", "records_timeout", "records_garbage", "records_refused"
]


class RecordsUnavailable(Unavailable):
    """The central records could not say whether, or as whom, the applicant is recorded.

    `code` is stable, for machines; `text` is for the operator, Indonesian first. Neither
    carries the NIK unmasked."""

    code: RecordsErrorCode
    text: Text

    def __init__(self, code: RecordsErrorCode, text: Text) -> None:
        super().__init__(code, text)


class PersonRecords(Protocol):
    async def lookup(self, nik: str) -> RecordedPerson | None:
        """The person's record if they were recorded before (PRR), None if never;
        `RecordsUnavailable` if the records cannot tell."""
        ...


class NoRecords:
    """No records service configured: every applicant is recorded at the station."""

    async def lookup(self, nik: str) -> RecordedPerson | None:  # noqa: ARG002 - the protocol's
        return None


def _base64(value: object) -> bytes:
    if not isinstance(value, str):
        # ValueError, not TypeError: only the former becomes a pydantic validation error.
        raise ValueError("base64 text expected")  # noqa: TRY004
    # Strict: the lenient decoder would skip stray characters and yield some other bytes.
    return base64.b64decode(value, validate=True)


def _png(value: bytes) -> bytes:
    if not value.startswith(_PNG_MAGIC):
        raise ValueError("not a PNG image")
    return value


Base64 = Annotated[bytes, BeforeValidator(_base64), Field(min_length=1)]
Png = Annotated[Base64, AfterValidator(_png)]


class _Finger(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    position: Annotated[int, Field(ge=1, le=10)]
    iso_19794_2: Base64

    def record(self) -> FingerTemplateRecord:
        template = decode_iso19794_2(self.iso_19794_2)  # TemplateError is a ValueError
        if template.finger_position != self.position:
            raise ValueError("the template is of another finger than its position says")
        return FingerTemplateRecord(position=self.position, iso_19794_2=self.iso_19794_2)


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    nik: str
    status: Literal["PRR"]
    face_png: Png
    signature_png: Png
    fingers: tuple[_Finger, _Finger]


class _NotRecorded(BaseModel):
    code: Literal["not_recorded"]


class SiakRecords:
    """`PersonRecords` over the records service's HTTP API (`GET /v1/records/{nik}`)."""

    def __init__(self, *, url: str, timeout_s: float) -> None:
        self._url = _service_url(url)
        self._timeout_s = timeout_s
        # Never through a proxy from the environment: the records are personal data.
        self._client = httpx.AsyncClient(trust_env=False, timeout=timeout_s)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def lookup(self, nik: str) -> RecordedPerson | None:
        # Checked here, not left to the service: the NIK becomes part of the URL's path.
        if not _NIK.fullmatch(nik):
            raise ValueError(f"{mask_nik(nik)} is not a 16-digit NIK")
        masked = mask_nik(nik)
        try:
            async with asyncio.timeout(self._timeout_s):
                person = await self._fetch(nik)
        except (TimeoutError, httpx.HTTPError, ValueError) as exc:
            error = _unavailable(exc, masked)
            # The cause's type only: a validation message quotes the answer, NIK and all;
            # and not chained, for the same reason.
            log.warning(
                "records.unavailable", nik=masked, code=error.code, cause=type(exc).__name__
            )
            raise error from None
        log.info("records.found" if person else "records.not_recorded", nik=masked)
        return person

    async def _fetch(self, nik: str) -> RecordedPerson | None:
        async with self._client.stream("GET", f"{self._url}/v1/records/{nik}") as response:
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > _MAX_ANSWER:
                    raise ValueError(f"an answer larger than {_MAX_ANSWER} bytes")
        if response.status_code == httpx.codes.NOT_FOUND:
            # Only the service's own "not recorded": a 404 from a wrong URL must not make
            # everybody a first-time applicant, recorded again.
            _NotRecorded.model_validate_json(body)
            return None
        response.raise_for_status()
        answer = _Answer.model_validate_json(body)
        if answer.nik != nik:
            raise ValueError("the record answered is another person's")
        fingers = (answer.fingers[0].record(), answer.fingers[1].record())
        if fingers[0].position == fingers[1].position:
            raise ValueError("the record holds the same finger twice")
        return RecordedPerson(
            nik=nik,
            face_image=answer.face_png,
            signature_image=answer.signature_png,
            fingers=fingers,
        )


_MESSAGES: Final[dict[RecordsErrorCode, Text]] = {
    "records_unreachable": Text(
        id="Data kependudukan pusat tidak dapat dihubungi (NIK {nik}); coba lagi.",
        en="The central population records cannot be reached (NIK {nik}); try again.",
    ),
    "records_timeout": Text(
        id="Data kependudukan pusat tidak menjawab tepat waktu (NIK {nik}); coba lagi.",
        en="The central population records did not answer in time (NIK {nik}); try again.",
    ),
    "records_garbage": Text(
        id="Jawaban data kependudukan pusat untuk NIK {nik} tidak sah; kartu tidak dicetak.",
        en="The central records' answer for NIK {nik} is not a valid record; no card is printed.",
    ),
    "records_refused": Text(
        id="Data kependudukan pusat menolak permintaan untuk NIK {nik} (HTTP {status}).",
        en="The central population records refused the request for NIK {nik} (HTTP {status}).",
    ),
}


def _unavailable(cause: Exception, masked_nik: str) -> RecordsUnavailable:
    """The one place where what went wrong becomes what the operator is told."""
    status = 0
    code: RecordsErrorCode
    if isinstance(cause, TimeoutError | httpx.TimeoutException):
        code = "records_timeout"
    elif isinstance(cause, httpx.HTTPStatusError):
        code, status = "records_refused", cause.response.status_code
    elif isinstance(cause, httpx.TransportError):
        code = "records_unreachable"
    else:  # JSON, pydantic, base64, a template, the NIK answered, a body that does not decode
        code = "records_garbage"
    return RecordsUnavailable(code, _MESSAGES[code].format(nik=masked_nik, status=status))
