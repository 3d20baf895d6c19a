#!/usr/bin/env python3
"""Rebuild `appliance/domain/data/regions.tsv` from a release of the npm package idn-area-data.

    cd /tmp && npm pack idn-area-data@4.0.1
    .venv/bin/python scripts/update_regions.py /tmp/idn-area-data-4.0.1.tgz \
        --regulation "Kepmendagri No. 300.2.2-2L38 Tahun 2025"

The package's `docs/references.md` (in its repository) names the regulation a release follows.
The script checks the hierarchy (every district in a listed regency, every regency in a listed
province, no code ending in 00) before it writes, then update `data/SOURCE.md` by hand.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import sys
import tarfile
from datetime import UTC, datetime
from pathlib import Path

_OUT = Path(__file__).resolve().parent.parent / "appliance/domain/data/regions.tsv"
_CODE = {
    "provinces": r"[0-9]{2}",
    "regencies": r"[0-9]{2}\.[0-9]{2}",
    "districts": r"[0-9]{2}(\.[0-9]{2}){2}",
}


def _read(tar: tarfile.TarFile, name: str) -> str:
    member = tar.extractfile(f"package/{name}")
    if member is None:
        raise SystemExit(f"{name} missing from the tarball")
    return member.read().decode("utf-8")


def _rows(tar: tarfile.TarFile, level: str) -> dict[str, str]:
    rows: dict[str, str] = {}
    for row in csv.DictReader(io.StringIO(_read(tar, f"data/{level}.csv"))):
        code, name = row["code"], row["name"].strip()
        if not re.fullmatch(_CODE[level], code) or code.endswith("00"):
            raise SystemExit(f"{level}: bad code {code!r}")
        if not name or any(c in name for c in "\t\r\n"):
            raise SystemExit(f"{level}: bad name for {code}")
        rows[code.replace(".", "")] = name
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tarball", type=Path, help="idn-area-data-<version>.tgz from npm pack")
    parser.add_argument("--regulation", required=True, help="the Kepmendagri the release follows")
    args = parser.parse_args()
    with tarfile.open(args.tarball) as tar:
        version = json.loads(_read(tar, "package.json"))["version"]
        provinces = _rows(tar, "provinces")
        regencies = _rows(tar, "regencies")
        districts = _rows(tar, "districts")
    for code in regencies:
        if code[:2] not in provinces:
            raise SystemExit(f"regency {code} has no province")
    for code in districts:
        if code[:4] not in regencies:
            raise SystemExit(f"district {code} has no regency")
    lines = [
        "# Indonesian region codes: province (2 digits), regency/city (4), district (6), tab, name",
        f"# source: npm idn-area-data {version} (data/provinces.csv, regencies.csv, districts.csv)",
        f"# regulation: {args.regulation}",
        f"# extracted: {datetime.now(UTC).date().isoformat()}",
        "# licence: ODbL 1.0, https://opendatacommons.org/licenses/odbl/1-0/ (see SOURCE.md)",
    ]
    merged = provinces | regencies | districts
    lines += [f"{code}\t{merged[code]}" for code in sorted(merged)]
    _OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    sys.stdout.write(
        f"{_OUT}: {len(provinces)} provinces, {len(regencies)} regencies, "
        f"{len(districts)} districts\n"
    )


if __name__ == "__main__":
    main()
