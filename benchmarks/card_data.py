"""Card data figures: building every file of a card and signing its security object, and
parsing and verifying a card read back, each the median of `rounds` runs.

The inputs are what the devices deliver: a 480 x 640 PNG face and a PNG signature (both
re-encoded as JPEG, as the chip requires, inside the timed build) and two ISO/IEC 19794-2
minutiae records of 40 minutiae each. Prints one JSON object. Target (issue 4): software
time to personalise and verify one card <= 1 s, of which this is the data part.
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import random
import statistics
import time
from datetime import date
from typing import Any

from PIL import Image, ImageDraw

from appliance.card import (
    BloodType,
    CardHolder,
    DocumentSigner,
    FingerTemplateRecord,
    Religion,
    build_card_files,
    read_card,
)
from appliance.domain import MaritalStatus, Sex

TARGET_MS = 1000.0


def sample_holder() -> CardHolder:
    return CardHolder(
        nik="3508015708900002",
        name="SITI NUR'AINI BINTI ABDUL RAHMAN",
        birth_place="LUMAJANG",
        birth_date=date(1990, 8, 17),
        sex=Sex.PEREMPUAN,
        blood_type=BloodType.A,
        address="DUSUN KRAJAN, JL. A. YANI NO. 5/B",
        rt_rw="003/005",
        village="DITOTRUNAN",
        kecamatan="LUMAJANG",
        regency="LUMAJANG",
        province="JAWA TIMUR",
        religion=Religion.ISLAM,
        marital_status=MaritalStatus.KAWIN,
        occupation="MENGURUS RUMAH TANGGA",
        issue_place="LUMAJANG",
        issue_date=date(2025, 5, 12),
    )


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def sample_face(rng: random.Random) -> bytes:
    # A photo-like image: a gradient background, a face shape and some noise, so the
    # JPEG encoder has realistic work (a flat image would compress to nothing).
    image = Image.linear_gradient("L").resize((480, 640)).convert("RGB")
    draw = ImageDraw.Draw(image)
    draw.ellipse((130, 140, 350, 460), fill=(224, 180, 150))
    noise = Image.frombytes("L", (480, 640), rng.randbytes(480 * 640))
    return _png(Image.blend(image, noise.convert("RGB"), 0.04))


def sample_signature() -> bytes:
    image = Image.new("RGBA", (500, 200), (0, 0, 0, 0))
    ImageDraw.Draw(image).line(
        (20, 150, 90, 40, 160, 170, 260, 50, 330, 160, 480, 60), fill=(0, 0, 0, 255), width=6
    )
    return _png(image)


def _minutiae(position: int, rng: random.Random) -> bytes:
    minutiae = b"".join(rng.randbytes(6) for _ in range(40))
    view = bytes((position, 0, 80, 40)) + minutiae + b"\x00\x00"
    size = 24 + len(view)
    return b"FMR\x00 20\x00" + size.to_bytes(4, "big") + bytes(2) + bytes(8) + b"\x01\x00" + view


def data_figures(rounds: int) -> dict[str, Any]:
    """Median milliseconds to build and sign all files, and to parse and verify them."""
    rng = random.Random(4)
    holder = sample_holder()
    face, signature = sample_face(rng), sample_signature()
    fingers = [
        FingerTemplateRecord(position=position, iso_19794_2=_minutiae(position, rng))
        for position in (2, 7)
    ]
    signer = DocumentSigner.generate(station_id="bench-01")
    trust = [signer.certificate]
    build_ms: list[float] = []
    verify_ms: list[float] = []
    files: dict[int, bytes] = {}
    for _ in range(rounds):
        started = time.perf_counter()
        files = build_card_files(
            holder,
            face_image=face,
            finger_templates=fingers,
            signature_image=signature,
            signer=signer,
        )
        built = time.perf_counter()
        contents = read_card(files, trust)
        verified = time.perf_counter()
        if contents.holder != holder:
            raise AssertionError("the card read back differs from the one built")
        build_ms.append((built - started) * 1000)
        verify_ms.append((verified - built) * 1000)
    build = statistics.median(build_ms)
    verify = statistics.median(verify_ms)
    return {
        "rounds": rounds,
        "build_and_sign_ms": round(build, 3),
        "parse_and_verify_ms": round(verify, 3),
        "total_ms": round(build + verify, 3),
        "card_bytes": sum(len(data) for data in files.values()),
        "file_bytes": {f"{fid:04X}": len(data) for fid, data in sorted(files.items())},
        "target_total_ms": TARGET_MS,
        "meets_target": build + verify <= TARGET_MS,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    print(json.dumps(data_figures(args.rounds), indent=2))


if __name__ == "__main__":
    main()
