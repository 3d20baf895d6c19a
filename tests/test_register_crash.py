"""Power-cut safety: a writer killed with SIGKILL at random moments loses nothing it
reported written, and leaves a register that verifies."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

from appliance.register import StationKey, read_events, verify_register
from tests.support import REPO

KILLS = 60

WRITER = """
import random, sys
from pathlib import Path
from appliance.register import Register, StationKey, EventType

path, key_path, seed = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
rng = random.Random(seed)
register = Register.open(path, station_id="crash-01", key=StationKey.load(key_path))
out = sys.stdout
while True:
    if rng.random() < 0.3:
        with register.transaction() as txn:
            sealed = [
                txn.append(EventType.BLANK_RECEIVED, {"count": 1, "reference": f"B{seed}"})
                for _ in range(rng.randint(2, 20))
            ]
    else:
        sealed = [register.append(EventType.BLANK_RECEIVED, {"count": 1, "reference": f"S{seed}"})]
    # Reported only once append() has returned: the promise under test.
    for event in sealed:
        out.write(f"{event.seq} {event.hash}\\n")
    out.flush()
"""


def test_sigkill_at_random_moments_loses_no_acknowledged_event(tmp_path: Path) -> None:
    rng = random.Random(20261121)
    key = StationKey.generate()
    key_path = tmp_path / "station.key"
    key.save(key_path)
    writer = tmp_path / "writer.py"
    writer.write_text(WRITER)
    register = tmp_path / "register.sqlite3"
    acknowledged: dict[int, str] = {}
    for life in range(KILLS):
        with subprocess.Popen(
            [sys.executable, str(writer), str(register), str(key_path), str(life)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        ) as child:
            assert child.stdout is not None
            # Some lives die while opening or creating the register, most mid-append.
            wanted = rng.choice([0, 0, rng.randint(1, 5), rng.randint(5, 200)])
            for _ in range(wanted):
                line = child.stdout.readline()
                if not line:
                    break
                seq, digest = line.split()
                acknowledged[int(seq)] = digest
            child.send_signal(signal.SIGKILL)
            # Lines already in the pipe were acknowledged before the kill, too.
            for line in child.stdout:
                seq, digest = line.split()
                acknowledged[int(seq)] = digest
        assert child.returncode == -signal.SIGKILL
        if not register.exists():
            continue
        report = verify_register(register, key.public_key)
        assert report.ok, f"life {life}: {report.defect}"
        stored = {event.seq: event.hash for event in read_events(register)}
        lost = {seq for seq, digest in acknowledged.items() if stored.get(seq) != digest}
        assert not lost, f"life {life}: acknowledged events lost or changed: {sorted(lost)[:5]}"
    assert len(acknowledged) > KILLS, "the writer hardly wrote anything: the test proved little"
