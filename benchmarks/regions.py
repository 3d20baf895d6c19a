"""What the official region list costs the station, as one JSON object.

In a fresh child process: `appliance.domain` is imported (the list is not read then), then the
first `validate_nik` reads it. Reported: the resident set before and after that first check
(`rss_cost_kb`, from /proc/self/statm, so what the daemon would pay), the bytes Python
allocated for it (`traced_kb`, tracemalloc), the first check's time and the time of a check
once the list is in memory.

    python benchmarks/regions.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

_CHILD = "--child"


def _rss_kb() -> int:
    with Path("/proc/self/statm").open(encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def _child(*, traced: bool) -> dict[str, float]:
    from appliance import domain  # noqa: PLC0415 - measured here, after the baseline

    nik = "3508015708450001"
    before = _rss_kb()
    if traced:
        tracemalloc.start()
    start = time.perf_counter()
    domain.validate_nik(nik)
    first_ms = (time.perf_counter() - start) * 1000
    if traced:
        return {"traced_kb": round(tracemalloc.get_traced_memory()[0] / 1024)}
    after = _rss_kb()
    rounds = 10_000
    start = time.perf_counter()
    for _ in range(rounds):
        domain.decode_nik(nik)
    return {
        "rss_before_kb": before,
        "rss_cost_kb": after - before,
        "first_check_ms": round(first_ms, 2),
        "decode_nik_us": round((time.perf_counter() - start) / rounds * 1e6, 2),
    }


def _run(*args: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, _CHILD, *args], check=True, capture_output=True, text=True
    ).stdout
    result: dict[str, float] = json.loads(out)
    return result


def main() -> None:
    if sys.argv[1:2] == [_CHILD]:
        sys.stdout.write(json.dumps(_child(traced="traced" in sys.argv)))
        return
    print(json.dumps({**_run(), **_run("traced")}, indent=2))


if __name__ == "__main__":
    main()
