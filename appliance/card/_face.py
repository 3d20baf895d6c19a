"""The front of the KTP-el as the card printer prints it: 300 dpi, CR80, RGB, white where
the blank card shows through.

A CR80 card is 85.60 x 53.98 mm, 1011 x 638 px at 300 dpi; card printers (the Fargo HDP5000
among them) take a 1016 x 648 panel bitmap and print a little over the edge so no white
border is left, so the face is drawn on 1016 x 648 with everything kept 24 px or more from
the edges.

The layout and wording are the official front's: the two header lines (province, regency)
centred; the NIK large; then label, colon, value for each field in the official order, with
`Gol. Darah` on the `Jenis Kelamin` row and the address's RT/RW, Kel/Desa and Kecamatan
indented under `Alamat`; on the right the photo, the place and date of issue under it, and
the holder's signature under those. Values wrap onto a second line (the address onto a
fourth) and the whole block shrinks until it fits, so no value can run off the card.

Fonts: Liberation Sans (metrically Arial, the typeface of the issued cards) or DejaVu Sans,
whichever is installed; otherwise Pillow's own scalable default. Nothing is bundled.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Final, Literal

from ._errors import CardDataError
from ._holder import CardHolder
from ._images import flatten, open_image

CARD_FACE_SIZE: Final = (1016, 648)
CARD_FACE_DPI: Final = 300

# Pillow (about 6 MB with its libraries) loads with the first face drawn, not with the
# daemon: a station idles without it (docs/footprint.md).
if TYPE_CHECKING:
    from PIL import Image, ImageDraw, ImageFont

    Font = ImageFont.FreeTypeFont | ImageFont.ImageFont

_FONTS: Final = {
    False: (
        "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
        "/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf",
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "DejaVuSans.ttf",
    ),
    True: (
        "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
        "/usr/share/fonts/truetype/liberation2/LiberationSans-Bold.ttf",
        "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
        "DejaVuSans-Bold.ttf",
    ),
}

_INK = (0, 0, 0)
_PAPER = (255, 255, 255)
_MARGIN = 24
_ELLIPSIS = "..."  # ASCII: the fallback font may lack the ellipsis glyph

# The left block: header, NIK, then the rows.
_HEADER_TOP = 22
_HEADER_SIZE = 30
_NIK_TOP = 100
_NIK_SIZE = 38
_NIK_COLON_X = 150
_NIK_VALUE_X = 176
_ROWS_TOP = 160
_LABEL_X = 40
_INDENT = 28
_COLON_X = 292
_VALUE_X = 310
_ROWS_RIGHT = 736
_ROW_MAX_SIZE = 24
_MIN_SIZE = 14
_LINE_SPACING = 1.22
_BLOOD_LABEL_X = 540

# The right column: photo (35:45, as the photo is taken), issue place and date, signature.
_COLUMN_LEFT = 752
_COLUMN_RIGHT = CARD_FACE_SIZE[0] - _MARGIN
_PHOTO_BOX = (772, 150, 992, 433)
_ISSUE_TOP = 440
_ISSUE_SIZE = 20
_ISSUE_MAX_LINES = 3
_SIGNATURE_BOX = (772, 514, 992, CARD_FACE_SIZE[1] - _MARGIN)
# The card access number, right above the photo: what a reader needs to open the chip
# (PACE), printed so that only someone holding the card has it.
_CAN_TOP = 114
_CAN_SIZE = 22


@dataclass(frozen=True, slots=True)
class _Row:
    label: str
    value: str
    max_lines: int = 2
    indented: bool = False


def render_card_face(
    holder: CardHolder,
    photo: Image.Image | bytes,
    signature: Image.Image | bytes,
    *,
    issued_at: date | datetime,
    can: str | None = None,
) -> Image.Image:
    """The card's front, 1016 x 648 RGB at 300 dpi, for the printer's colour panel; with
    the chip's card access number `can` above the photo, when given.

    The date printed is the holder's `issue_date`, the one DG1 carries; `issued_at` (an
    aware datetime is taken on its own calendar) must fall on it, else `ValueError`: the
    face and the chip must not disagree. Raises `CardDataError` if the photo or the
    signature cannot be decoded.
    """
    day = issued_at.date() if isinstance(issued_at, datetime) else issued_at
    if day != holder.issue_date:
        raise ValueError(
            f"issued_at falls on {day}, but the card's date of issue is {holder.issue_date}"
        )
    from PIL import Image, ImageDraw  # noqa: PLC0415 - see Font

    face = Image.new("RGB", CARD_FACE_SIZE, _PAPER)
    draw = ImageDraw.Draw(face)
    _draw_header(draw, holder)
    _draw_nik(draw, holder.nik)
    _draw_rows(draw, holder)
    _paste_photo(face, photo)
    _draw_issue(draw, holder)
    _paste_signature(face, signature)
    if can is not None:
        _draw_can(draw, can)
    return face


def face_png(image: Image.Image) -> bytes:
    """The face as PNG with its 300 dpi recorded, for the printer driver or an archive."""
    out = io.BytesIO()
    image.save(out, format="PNG", dpi=(CARD_FACE_DPI, CARD_FACE_DPI))
    return out.getvalue()


def _draw_header(draw: ImageDraw.ImageDraw, holder: CardHolder) -> None:
    width = CARD_FACE_SIZE[0] - 2 * _MARGIN
    top = _HEADER_TOP
    for text in (f"PROVINSI {holder.province}", f"{holder.regency_kind} {holder.regency}"):
        font, (line,) = _fit(text, bold=True, max_size=_HEADER_SIZE, width=width, max_lines=1)
        draw.text(((CARD_FACE_SIZE[0] - font.getlength(line)) / 2, top), line, font=font, fill=_INK)
        top += round(_HEADER_SIZE * _LINE_SPACING)


def _draw_nik(draw: ImageDraw.ImageDraw, nik: str) -> None:
    font = _font(_NIK_SIZE, bold=True)
    draw.text((_LABEL_X, _NIK_TOP), "NIK", font=font, fill=_INK)
    draw.text((_NIK_COLON_X, _NIK_TOP), ":", font=font, fill=_INK)
    draw.text((_NIK_VALUE_X, _NIK_TOP), nik, font=font, fill=_INK)


def _rows(holder: CardHolder) -> list[_Row]:
    return [
        _Row("Nama", holder.name),
        _Row("Tempat/Tgl Lahir", f"{holder.birth_place}, {_printed_date(holder.birth_date)}"),
        _Row("Jenis Kelamin", holder.sex.label.id.upper(), max_lines=1),
        _Row("Alamat", holder.address, max_lines=4),
        _Row("RT/RW", holder.rt_rw, indented=True),
        _Row("Kel/Desa", holder.village, indented=True),
        _Row("Kecamatan", holder.kecamatan, indented=True),
        _Row("Agama", holder.religion.value),
        _Row("Status Perkawinan", holder.marital_status.label.id.upper()),
        _Row("Pekerjaan", holder.occupation),
        _Row("Kewarganegaraan", holder.citizenship.value),
        _Row(
            "Berlaku Hingga",
            holder.valid_until
            if isinstance(holder.valid_until, str)
            else _printed_date(holder.valid_until),
        ),
    ]


def _draw_rows(draw: ImageDraw.ImageDraw, holder: CardHolder) -> None:
    rows = _rows(holder)
    bottom = CARD_FACE_SIZE[1] - _MARGIN
    width = _ROWS_RIGHT - _VALUE_X
    # One size for every row, the largest at which every value fits in its lines and
    # the block fits above the bottom margin; at the smallest, what still does not fit
    # ends in an ellipsis (the field limits of CardHolder keep that from happening).
    for size in range(_ROW_MAX_SIZE, _MIN_SIZE - 1, -1):
        font = _font(size, bold=False)
        line_height = round(size * _LINE_SPACING)
        laid = [_wrap(row.value, font, width, row.max_lines) for row in rows]
        fits = all(complete for _, complete in laid)
        if fits and _ROWS_TOP + line_height * sum(len(lines) for lines, _ in laid) <= bottom:
            break
    top = _ROWS_TOP
    for row, (lines, _) in zip(rows, laid, strict=True):
        label_x = _LABEL_X + (_INDENT if row.indented else 0)
        draw.text((label_x, top), row.label, font=font, fill=_INK)
        draw.text((_COLON_X, top), ":", font=font, fill=_INK)
        for number, line in enumerate(lines):
            draw.text((_VALUE_X, top + number * line_height), line, font=font, fill=_INK)
        if row.label == "Jenis Kelamin":
            blood = f"Gol. Darah : {holder.blood_type.value}"
            draw.text((_BLOOD_LABEL_X, top), blood, font=font, fill=_INK)
        top += line_height * len(lines)


def _draw_issue(draw: ImageDraw.ImageDraw, holder: CardHolder) -> None:
    """The place of issue (wrapped onto up to three lines) and the date, centred under the
    photo, shrunk until both end above the signature."""
    width = _COLUMN_RIGHT - _COLUMN_LEFT
    height = _SIGNATURE_BOX[1] - _ISSUE_TOP
    centre = (_PHOTO_BOX[0] + _PHOTO_BOX[2]) / 2
    for size in range(_ISSUE_SIZE, _MIN_SIZE - 1, -1):
        font = _font(size, bold=False)
        line_height = round(size * _LINE_SPACING)
        lines, complete = _wrap(holder.issue_place, font, width, _ISSUE_MAX_LINES)
        if complete and (len(lines) + 1) * line_height <= height:
            break
    top = _ISSUE_TOP
    for line in [*lines, _printed_date(holder.issue_date)]:
        draw.text((centre - font.getlength(line) / 2, top), line, font=font, fill=_INK)
        top += line_height


def _draw_can(draw: ImageDraw.ImageDraw, can: str) -> None:
    if len(can) != 6 or not can.isascii() or not can.isdigit():
        raise ValueError("a card access number is 6 digits")
    font = _font(_CAN_SIZE, bold=False)
    text = f"CAN {can}"
    draw.text((_PHOTO_BOX[2] - font.getlength(text), _CAN_TOP), text, font=font, fill=_INK)


def _paste_photo(face: Image.Image, photo: Image.Image | bytes) -> None:
    box = _PHOTO_BOX
    size = (box[2] - box[0], box[3] - box[1])
    from PIL import Image, ImageOps  # noqa: PLC0415 - see Font

    image = _loaded(photo, mode="RGB", what="photo")
    face.paste(ImageOps.fit(image, size, method=Image.Resampling.LANCZOS), box[:2])


def _paste_signature(face: Image.Image, signature: Image.Image | bytes) -> None:
    box = _SIGNATURE_BOX
    size = (box[2] - box[0], box[3] - box[1])
    from PIL import Image, ImageOps  # noqa: PLC0415 - see Font

    image = ImageOps.contain(
        _loaded(signature, mode="L", what="signature"), size, method=Image.Resampling.LANCZOS
    )
    face.paste(
        image.convert("RGB"),
        (box[0] + (size[0] - image.width) // 2, box[1] + (size[1] - image.height) // 2),
    )


def _loaded(source: Image.Image | bytes, *, mode: Literal["RGB", "L"], what: str) -> Image.Image:
    from PIL import Image  # noqa: PLC0415 - see Font

    image = open_image(source, what=what) if isinstance(source, bytes) else source
    try:
        return flatten(image, mode=mode)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise CardDataError(f"the {what} cannot be decoded: {exc}") from None


def _fit(
    text: str, *, bold: bool, max_size: int, width: int, max_lines: int
) -> tuple[Font, list[str]]:
    """The largest font (down to the minimum) at which `text` fits in `max_lines` lines,
    and the lines."""
    for size in range(max_size, _MIN_SIZE - 1, -1):
        font = _font(size, bold=bold)
        lines, complete = _wrap(text, font, width, max_lines)
        if complete:
            break
    return font, lines


def _wrap(text: str, font: Font, width: int, max_lines: int) -> tuple[list[str], bool]:
    """Greedy word wrap into at most `max_lines` lines of `width` pixels; a word too long
    for a line is broken. The flag says whether everything fitted; if not, the last line
    ends in an ellipsis."""
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        candidate = f"{current} {word}" if current else word
        if font.getlength(candidate) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        current = word
        while font.getlength(current) > width:
            cut = _longest_prefix(current, font, width)
            lines.append(current[:cut])
            current = current[cut:]
    lines.append(current)
    if len(lines) <= max_lines:
        return lines, True
    kept = lines[:max_lines]
    last = kept[-1]
    while last and font.getlength(last + _ELLIPSIS) > width:
        last = last[:-1]
    kept[-1] = last + _ELLIPSIS
    return kept, False


def _longest_prefix(word: str, font: Font, width: int) -> int:
    cut = len(word) - 1
    while cut > 1 and font.getlength(word[:cut]) > width:
        cut -= 1
    return cut


# A face tries sizes down from each block's largest until its text fits, and each font
# object (FreeType's face and glyph cache) is about 0.7 MB: kept for every size ever
# tried, long names would leave up to 30 of them in the daemon. A usual card uses four.
@lru_cache(maxsize=8)
def _font(size: int, *, bold: bool) -> Font:
    from PIL import ImageFont  # noqa: PLC0415 - see Font

    for candidate in _FONTS[bold]:
        try:
            return ImageFont.truetype(candidate, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def _printed_date(day: date) -> str:
    return day.strftime("%d-%m-%Y")
