"""Card issuance figures (issue 4), as one JSON object:

- `apdu`: APDUs per second through pcscd (target >= 5,000), from `card_apdu.py`;
- `card_data`: building and signing a card's files, parsing and verifying them, from
  `card_data.py`;
- `personalise_and_verify`: the software time for one card, end to end through the
  stack with a simulated card in instant time: build and sign the files, open the blank
  with its transport key and write them under secure messaging with read-back, compare
  and lock, read them back again as activation does (PACE with the CAN, then the reader
  key for DG3), and verify every hash and the signature (target <= 1 s); with
  `personalise_seconds` and `read_seconds`, the two chip operations alone;
- `matcher`: false-accept and false-reject rates at the configured threshold over
  synthetic people (target FAR <= 0.1 % at FRR <= 2 %), from `card_matcher.py`.

    python benchmarks/card.py [--people 200] [--apdus 3000] [--cards 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

# Run as a script (`python benchmarks/card.py`): its siblings are found from the root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appliance.card import (
    CARD_AID,
    FILE_IDS,
    CardHolder,
    CardKeys,
    DocumentSigner,
    FingerTemplateRecord,
    build_card_files,
    read_card,
)
from appliance.fingerprint import encode_iso19794_2, extract_template
from appliance.hal import AccessKeys, CardApplication, CardEncoder, PersonalisationKeys
from appliance.logs import configure_logging
from benchmarks.card_apdu import apdu_figures
from benchmarks.card_data import data_figures, sample_face, sample_holder, sample_signature
from benchmarks.card_matcher import matcher_figures
from sim._base import Timing
from sim.blanks import BlankSupplier
from sim.fingerprints import SyntheticFinger
from sim.pcscd import PrivatePcscd


def _inputs() -> tuple[CardHolder, bytes, bytes, list[FingerTemplateRecord]]:
    fingers = []
    for position in (2, 7):
        image = SyntheticFinger(person_seed=1, finger=position).impression(
            rng=random.Random(position)
        )
        template = extract_template(image, finger_position=position)
        fingers.append(
            FingerTemplateRecord(position=position, iso_19794_2=encode_iso19794_2(template))
        )
    face = sample_face(random.Random(0))
    return sample_holder(), face, sample_signature(), fingers


async def _personalise_and_verify(cards: int) -> dict[str, Any]:
    holder, face, signature, fingers = _inputs()
    signer = DocumentSigner.generate(station_id="bench-01")
    card_keys = CardKeys.generate()
    blanks = BlankSupplier.for_master(card_keys.transport)
    timings: list[float] = []
    writes: list[float] = []
    reads: list[float] = []
    sizes = 0
    async with PrivatePcscd() as pcscd:
        slot = pcscd.slot(timing=Timing(scale=0))
        await slot.start()
        encoder = CardEncoder(name="card_encoder", reader=pcscd.reader_name)
        await encoder.connect()
        try:
            for number in range(cards):
                await encoder.wait_until_empty(timeout_s=5)
                serial = f"KTP{number:010d}"
                await slot.insert(blanks.blank(serial))
                await encoder.wait_for_card(timeout_s=5)
                chip = card_keys.for_card(serial)
                started = time.perf_counter()
                files = build_card_files(
                    holder,
                    face_image=face,
                    finger_templates=fingers,
                    signature_image=signature,
                    signer=signer,
                )
                written = time.perf_counter()
                await encoder.personalise(
                    CardApplication(
                        aid=CARD_AID, files=files, sensitive=frozenset({FILE_IDS["DG3"]})
                    ),
                    keys=PersonalisationKeys(
                        transport_key=chip.transport_key, can=chip.can, reader_key=chip.reader_key
                    ),
                    timeout_s=30,
                )
                read = time.perf_counter()
                writes.append(read - written)
                read_back = await encoder.read_application(
                    CARD_AID,
                    FILE_IDS.values(),
                    keys=AccessKeys(can=chip.can, reader_key=chip.reader_key),
                    timeout_s=30,
                )
                reads.append(time.perf_counter() - read)
                read_card(read_back, [signer.certificate])
                timings.append(time.perf_counter() - started)
                sizes = sum(len(content) for content in files.values())
                await slot.remove()
        finally:
            await encoder.disconnect()
            await slot.stop()
    return {
        "cards": cards,
        "card_bytes": sizes,
        "seconds_median": round(statistics.median(timings), 4),
        "seconds_max": round(max(timings), 4),
        "personalise_seconds_median": round(statistics.median(writes), 4),
        "read_seconds_median": round(statistics.median(reads), 4),
        "target_seconds": 1.0,
    }


async def _main(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "benchmark": "card",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "apdu": await apdu_figures(args.apdus),
        "card_data": data_figures(args.rounds),
        "personalise_and_verify": await _personalise_and_verify(args.cards),
        "matcher": matcher_figures(people=args.people),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--apdus", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--cards", type=int, default=10)
    parser.add_argument("--people", type=int, default=200)
    configure_logging(level="warning")  # stdout is for the JSON
    print(json.dumps(asyncio.run(_main(parser.parse_args())), indent=2))


if __name__ == "__main__":
    main()
