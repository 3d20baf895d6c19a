"""The fleet file: stations registered with their district, name and zone, validated
strictly (a bad file names the file, the station and the key, and the CLI exits 2)."""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from appliance.central import load_central_config
from appliance.central._fleet import Fleet, FleetSection, load_fleet
from appliance.cli import run
from appliance.config import ConfigError

JAKARTA = ZoneInfo("Asia/Jakarta")


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_fleet_file_loads_with_defaults_from_the_region_list(tmp_path: Path) -> None:
    path = write(
        tmp_path / "fleet.toml",
        """
[[station]]
id = "kec-tempursari"
district = "35.08.01"

[[station]]
id = "kec-tarik"
district = "351501"
name = "Kecamatan Tarik"
timezone = "Asia/Makassar"
""",
    )
    fleet = Fleet.load(path, default_zone=JAKARTA)
    assert [s.id for s in fleet.stations] == ["kec-tempursari", "kec-tarik"]
    first = fleet.get("kec-tempursari")
    assert first is not None
    assert (first.district, first.regency, first.province) == ("350801", "3508", "35")
    assert first.name == "Tempursari"  # the region list's name
    assert first.zone == JAKARTA
    second = fleet.get("kec-tarik")
    assert second is not None
    assert second.name == "Kecamatan Tarik"
    assert second.zone == ZoneInfo("Asia/Makassar")
    assert fleet.get("kec-unknown") is None
    assert fleet.zone_of("kec-unknown") == JAKARTA
    assert fleet.zone_of("kec-tarik") == ZoneInfo("Asia/Makassar")
    assert [s.id for s in fleet.in_scope("")] == ["kec-tempursari", "kec-tarik"]
    assert [s.id for s in fleet.in_scope("35")] == ["kec-tempursari", "kec-tarik"]
    assert [s.id for s in fleet.in_scope("3508")] == ["kec-tempursari"]
    assert [s.id for s in fleet.in_scope("3515")] == ["kec-tarik"]
    assert fleet.in_scope("32") == ()
    assert len(fleet) == 2


@pytest.mark.parametrize(
    ("entry", "key", "words"),
    [
        ('id = "kec-a"\ndistrict = "359901"', "station[2 kec-a].district", "region list"),
        ('id = "kec-a"\ndistrict = "3508011"', "station[2 kec-a].district", "format tidak sesuai"),
        ('id = "kec-a"\ndistrict = "35.08.xx"', "station[2 kec-a].district", "format tidak sesuai"),
        ('id = "Kec_A"\ndistrict = "350802"', "station[2 Kec_A].id", "format tidak sesuai"),
        ('id = "kec-a"', "station[2 kec-a].district", "wajib diisi"),
        ('district = "350802"', "station[2].id", "wajib diisi"),
        ('id = "kec-a"\ndistrict = "350802"\ncolour = "red"', "station[2 kec-a].colour", "unknown"),
        (
            'id = "kec-a"\ndistrict = "350802"\ntimezone = "Asia/Atlantis"',
            "station[2 kec-a].timezone",
            "unknown time zone",
        ),
        ('id = "kec-a"\ndistrict = "350802"\nname = ""', "station[2 kec-a].name", "terlalu pendek"),
        ('id = "kec-first"\ndistrict = "350802"', "station[2 kec-first].id", "already listed"),
    ],
)
def test_a_bad_station_is_named_with_its_key(
    tmp_path: Path, entry: str, key: str, words: str
) -> None:
    path = write(
        tmp_path / "fleet.toml",
        f'[[station]]\nid = "kec-first"\ndistrict = "350801"\n\n[[station]]\n{entry}\n',
    )
    with pytest.raises(ConfigError) as caught:
        Fleet.load(path)
    problems = {p.key: f"{p.text.id} / {p.text.en}".lower() for p in caught.value.problems}
    assert key in problems, problems
    assert words in problems[key]
    assert str(path) in caught.value.render("id")


def test_not_toml_or_unknown_table_is_refused(tmp_path: Path) -> None:
    broken = write(tmp_path / "broken.toml", "[[station]\nid=")
    with pytest.raises(ConfigError, match="not valid TOML"):
        Fleet.load(broken)
    extra = write(tmp_path / "extra.toml", '[stations]\nid = "x"\n')
    with pytest.raises(ConfigError) as caught:
        Fleet.load(extra)
    assert caught.value.problems[0].key == "stations"


def test_fleet_section_default_file_may_be_missing_but_a_named_one_not(tmp_path: Path) -> None:
    fleet = load_fleet(FleetSection(), tmp_path)
    assert fleet.stations == ()
    with pytest.raises(ConfigError, match="cannot read"):
        load_fleet(FleetSection(file=Path("regency.toml")), tmp_path)
    write(tmp_path / "regency.toml", '[[station]]\nid = "kec-a"\ndistrict = "350801"\n')
    section = FleetSection(file=Path("regency.toml"), timezone="Asia/Makassar")
    loaded = load_fleet(section, tmp_path)
    assert loaded.stations[0].zone == ZoneInfo("Asia/Makassar")


def test_fleet_section_in_the_central_config_and_its_calendar(tmp_path: Path) -> None:
    config_file = write(
        tmp_path / "central.toml",
        """
[central]
id = "pusat-1"
state_dir = "state"
[broker]
host = "127.0.0.1"
[fleet]
opening = "07:30"
closing = "14:00"
holidays = [2026-12-24]
""",
    )
    config = load_central_config(config_file)
    section = config.fleet
    assert section.file == Path("fleet.toml")
    assert (section.opening, section.closing) == (time(7, 30), time(14, 0))
    calendar = section.calendar()
    assert calendar.zone == JAKARTA
    assert not calendar.is_working_day(date(2026, 12, 24))  # cuti bersama, as configured
    assert not calendar.is_working_day(date(2026, 12, 25))  # Christmas, a national holiday
    assert not calendar.is_working_day(date(2026, 12, 26))  # a Saturday
    assert calendar.is_working_day(date(2026, 12, 23))
    due = calendar.due(datetime(2026, 12, 23, 9, 0, tzinfo=JAKARTA))
    assert due == datetime(2026, 12, 28, 9, 0, tzinfo=JAKARTA)


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ('opening = "15:00"\nclosing = "08:00"', "fleet"),
        ('timezone = "Mars/Olympus"', "fleet.timezone"),
        ("working_days = [0]", "fleet.working_days.0"),
        ("colour = 1", "fleet.colour"),
    ],
)
def test_bad_fleet_section_is_a_config_error(tmp_path: Path, table: str, key: str) -> None:
    config_file = write(
        tmp_path / "central.toml",
        f'[central]\nid = "pusat-1"\n[broker]\nhost = "127.0.0.1"\n[fleet]\n{table}\n',
    )
    with pytest.raises(ConfigError) as caught:
        load_central_config(config_file)
    assert [problem.key for problem in caught.value.problems] == [key]


def test_appliance_central_refuses_a_bad_fleet_file_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config_file = write(
        tmp_path / "central.toml",
        '[central]\nid = "pusat-1"\nstate_dir = "state"\n[broker]\nhost = "127.0.0.1"\n',
    )
    assert run(["central", "--config", str(config_file), "--init-key"]) == 0
    capsys.readouterr()
    fleet_file = write(
        tmp_path / "state" / "fleet.toml",
        '[[station]]\nid = "kec-a"\ndistrict = "35.99.01"\n',
    )
    assert run(["--lang", "en", "central", "--config", str(config_file)]) == 2
    error = capsys.readouterr().err
    assert f"{fleet_file}: station[1 kec-a].district:" in error
    assert "not in the official region list" in error
