"""Images for the chip: ICAO 9303 stores the face (DG2) and the signature (DG7) as JPEG or
JPEG 2000 only, so anything else a device delivers (the camera and the signature pad of the
simulator send PNG) is re-encoded as JPEG before it is written."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Literal

from ._errors import CardDataError

# Pillow (about 6 MB with its libraries) loads with the first image handled, not with
# the daemon: a station idles without it (docs/footprint.md).
if TYPE_CHECKING:
    from PIL import Image

_JPEG_MAGIC = b"\xff\xd8\xff"
_JPEG2000_MAGICS = (
    b"\x00\x00\x00\x0cjP  \r\n\x87\n",  # JP2 file (ISO/IEC 15444-1 annex I)
    b"\xff\x4f\xff\x51",  # bare codestream: SOC then SIZ
)
_JPEG_QUALITY = 90
_WHITE = 255
# A chip holds tens of kilobytes; a camera's photo can be hundreds. ICAO 9303 (part 10,
# DG2) suggests portraits of 15-20 KB: a bigger image is scaled down to fit a passport
# photo's pixels and re-encoded at falling quality until it fits its budget.
MAX_IMAGE_BYTES = 20_000
_SIZES = ((480, 640), (360, 480), (240, 320))  # 240 wide still holds ICAO's 90 px eyes
_QUALITIES = (90, 80, 70, 60, 50)


class ImageFormat(StrEnum):
    JPEG = "jpeg"
    JPEG2000 = "jpeg2000"


@dataclass(frozen=True, slots=True)
class CardImage:
    """An image as the chip holds it: JPEG or JPEG 2000 bytes and their size in pixels."""

    data: bytes = field(repr=False)
    format: ImageFormat
    width: int
    height: int


def image_format(data: bytes) -> ImageFormat | None:
    """The chip format of these bytes, by their signature; None for any other format."""
    if data.startswith(_JPEG_MAGIC):
        return ImageFormat.JPEG
    if data.startswith(_JPEG2000_MAGICS):
        return ImageFormat.JPEG2000
    return None


def open_image(data: bytes, *, what: str) -> Image.Image:
    """Open image bytes with Pillow (lazily: only the header is read until pixels are used)."""
    from PIL import Image  # noqa: PLC0415 - see the imports

    try:
        return Image.open(io.BytesIO(data))
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise CardDataError(f"the {what} is not an image Pillow can read: {exc}") from None


def card_image(
    data: bytes, *, mode: Literal["RGB", "L"], what: str, max_bytes: int = MAX_IMAGE_BYTES
) -> CardImage:
    """The bytes as the chip will hold them: JPEG and JPEG 2000 within `max_bytes` as they
    are; anything else, or anything larger, re-encoded as JPEG in `mode` (colour for the
    face, grey for the signature) with transparency laid on white, at the largest size
    (up to 480 x 640) and best quality that fit `max_bytes`."""
    from PIL import Image  # noqa: PLC0415 - see the imports

    image = open_image(data, what=what)
    found = image_format(data)
    if found is not None and len(data) <= max_bytes:
        return CardImage(data=data, format=found, width=image.width, height=image.height)
    try:
        flat = flatten(image, mode=mode)
        for size in _SIZES:
            scaled = flat.copy()
            scaled.thumbnail(size)  # keeps the aspect ratio; never enlarges
            for quality in _QUALITIES:
                out = io.BytesIO()
                scaled.save(out, format="JPEG", quality=quality)
                if out.tell() <= max_bytes:
                    return CardImage(
                        data=out.getvalue(),
                        format=ImageFormat.JPEG,
                        width=scaled.width,
                        height=scaled.height,
                    )
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise CardDataError(f"the {what} cannot be decoded: {exc}") from None
    raise CardDataError(f"the {what} does not fit {max_bytes} bytes even small and coarse")


def flatten(image: Image.Image, *, mode: Literal["RGB", "L"]) -> Image.Image:
    """The image in `mode`, transparent parts white (a signature pad draws on nothing)."""
    if image.mode in {"RGBA", "LA", "PA"} or "transparency" in image.info:
        from PIL import Image  # noqa: PLC0415 - see the imports

        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (_WHITE, _WHITE, _WHITE, _WHITE))
        image = Image.alpha_composite(white, rgba)
    return image.convert(mode)
