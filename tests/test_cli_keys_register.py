"""`appliance keys init`, `register verify` and `register export` from the command line."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from appliance.card import DocumentSigner
from appliance.cli import run
from appliance.config import load_config
from appliance.register import EventType, Register, StationKey
from tests.support import REPO, SUBMITTED, VALID_NIK


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "station.toml"
    path.write_text('[station]\nid = "lumajang-01"\n[paths]\nstate_dir = "state"\n')
    return path


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_keys_init_creates_owner_only_keys_and_refuses_to_overwrite(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["keys", "init", "--config", str(config_file)]) == 0
    config = load_config(config_file)
    assert _mode(config.station_key_path) == 0o600
    assert _mode(config.biometric_key_path) == 0o600
    assert len(config.biometric_key_path.read_bytes()) == 32
    signer_key, signer_certificate = config.document_signer_paths
    assert _mode(signer_key) == 0o600
    signer = DocumentSigner.load(signer_key, signer_certificate)
    assert config.station.id in signer.certificate.subject.rfc4514_string()
    public = config.station_key_path.with_suffix(".pub").read_bytes()
    assert public.startswith(b"-----BEGIN PUBLIC KEY-----")
    assert StationKey.load(config.station_key_path).public_key.to_pem() == public
    assert "kunci stasiun dibuat" in capsys.readouterr().out

    before = config.station_key_path.read_bytes()
    assert run(["keys", "init", "--config", str(config_file)]) == 1
    assert "refusing to overwrite" in capsys.readouterr().err
    assert config.station_key_path.read_bytes() == before


def test_a_key_readable_by_others_is_refused(config_file: Path) -> None:
    assert run(["keys", "init", "--config", str(config_file)]) == 0
    key_path = load_config(config_file).station_key_path
    key_path.chmod(0o644)
    with pytest.raises(Exception, match="must be 0600"):
        StationKey.load(key_path)


def _fill(config_file: Path) -> Path:
    assert run(["keys", "init", "--config", str(config_file)]) == 0
    config = load_config(config_file)
    key = StationKey.load(config.station_key_path)
    with Register.open(config.register_path, station_id="lumajang-01", key=key) as reg:
        reg.append(EventType.BLANK_RECEIVED, {"count": 10, "reference": "BA-117"})
        reg.append(
            EventType.APPLICATION_SUBMITTED,
            {
                **SUBMITTED,
                "service": "hilang",
                "documents": ["fc_ktp", "surat_kehilangan", "fc_kk"],
                "by": {"role": "petugas_loket", "person": "rina"},
            },
            application_id="A-0001",
        )
    return config.register_path


def test_verify_exits_0_on_an_intact_register_and_1_naming_the_seq(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _fill(config_file)
    capsys.readouterr()
    assert run(["register", "verify", "--config", str(config_file)]) == 0
    assert "register utuh: 3 kejadian" in capsys.readouterr().out
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER events_no_update")
    conn.execute("""UPDATE events SET data = replace(data, '"count":10', '"count":11')""")
    conn.commit()
    conn.close()
    assert run(["--lang", "en", "register", "verify", "--config", str(config_file)]) == 1
    assert "seq 2: edited" in capsys.readouterr().err


def test_verify_of_a_missing_register_is_a_clear_failure(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["keys", "init", "--config", str(config_file)]) == 0
    assert run(["register", "verify", "--config", str(config_file)]) == 1
    assert "no register here" in capsys.readouterr().err


def test_export_csv_reads_like_the_register_book(config_file: Path) -> None:
    _fill(config_file)
    out = io.StringIO()
    assert (
        run(["register", "export", "--config", str(config_file), "--format", "csv"], stdout=out)
        == 0
    )
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [r["No"] for r in rows] == ["1", "2", "3"]
    submitted = rows[2]
    assert submitted["Kegiatan"] == "Berkas permohonan diserahkan"
    assert submitted["NIK"] == "3508********0001"
    assert submitted["Nama"] == "Siti Aminah"
    assert submitted["Layanan"].lower().startswith("ktp")
    assert submitted["Petugas"] == "rina (petugas_loket)"
    assert rows[1]["Keterangan"] == "10 (BA-117)"


def test_export_jsonl_is_the_wire_form(config_file: Path, tmp_path: Path) -> None:
    _fill(config_file)
    target = tmp_path / "out.jsonl"
    args = ["register", "export", "--config", str(config_file), "--format", "jsonl"]
    assert run([*args, "--output", str(target)]) == 0
    events = [json.loads(line) for line in target.read_text().splitlines()]
    assert [e["seq"] for e in events] == [1, 2, 3]
    assert {"station", "seq", "prev_hash", "hash", "sig", "type", "data", "ts"} <= events[0].keys()
    assert events[2]["data"]["nik"] == VALID_NIK


def test_the_console_script_runs_as_a_program(config_file: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "appliance", "config", "check", str(config_file)],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 0, result.stderr
