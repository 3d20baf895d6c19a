"""The staff directory: hashed PINs, lockout, sessions, and `appliance staff` on the CLI."""

# The PINs and passwords here are made up for the tests, not credentials of anything.
# ruff: noqa: S105, S106

from __future__ import annotations

import asyncio
import io
import re
import stat
import threading
from datetime import timedelta
from pathlib import Path
from typing import Literal

import pytest
from argon2 import Parameters, PasswordHasher, extract_parameters
from structlog.testing import capture_logs

from appliance._text import Text
from appliance.cli import run
from appliance.clock import ManualClock
from appliance.config import load_config
from appliance.domain import Role
from appliance.errors import ApplianceError
from appliance.staff import (
    AccountLocked,
    AuthenticationFailed,
    DuplicatePerson,
    InvalidPerson,
    Sessions,
    StaffDirectory,
    StaffError,
    StaffFileError,
    StaffMember,
    UnknownPerson,
    WeakSecret,
    add_member,
    check_secret,
    set_secret,
)

PIN = "482913"
LOCKOUT = timedelta(minutes=5)


class RecordingHasher(PasswordHasher):
    """A cheap hasher that notes which hashes it verified, and on which thread."""

    def __init__(self) -> None:
        # The cheapest argon2id argon2-cffi accepts: these tests are about the rules
        # around the hash, not its cost.
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.verified: list[tuple[str, int]] = []

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:  # noqa: A002
        self.verified.append((str(hash), threading.get_ident()))
        return super().verify(hash, password)


@pytest.fixture
def hasher() -> RecordingHasher:
    return RecordingHasher()


@pytest.fixture
def staff_file(tmp_path: Path, hasher: RecordingHasher) -> Path:
    path = tmp_path / "state" / "staff.toml"
    add_member(
        path,
        person_id="siti",
        name="Siti Aminah",
        roles=[Role.COUNTER_OFFICER],
        secret=PIN,
        hasher=hasher,
    )
    add_member(
        path,
        person_id="budi",
        name="Budi Santoso",
        roles=[Role.SECTION_HEAD, Role.OPERATOR],
        secret="kopi-tubruk-7",
        hasher=hasher,
    )
    return path


@pytest.fixture
def directory(staff_file: Path, clock: ManualClock, hasher: RecordingHasher) -> StaffDirectory:
    return StaffDirectory.load(
        staff_file, clock=clock, max_failures=5, lockout=LOCKOUT, hasher=hasher
    )


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _write_private(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


def _fail(directory: StaffDirectory, person_id: str, times: int) -> None:
    for _ in range(times):
        with pytest.raises(AuthenticationFailed):
            directory.authenticate(person_id, "000000")


# --- Adding people and logging in -----------------------------------------------------


def test_every_staff_refusal_is_an_appliance_error() -> None:
    for error in (
        AccountLocked(seconds_remaining=61),
        AuthenticationFailed(),
        DuplicatePerson("siti"),
        InvalidPerson("id", Text(id="salah", en="wrong")),
        StaffFileError(Path("staff.toml"), None, Text(id="rusak", en="broken")),
        UnknownPerson("siti"),
        WeakSecret(Text(id="lemah", en="weak")),
    ):
        assert isinstance(error, StaffError)
        assert isinstance(error, ApplianceError)
        assert str(error) == error.text.en
    assert AccountLocked(seconds_remaining=61).text.en.endswith("in 2 minute(s).")


def test_members_are_read_back_in_file_order_without_their_secrets(
    directory: StaffDirectory,
) -> None:
    siti, budi = directory.members()
    assert siti == StaffMember(
        id="siti", name="Siti Aminah", roles=frozenset({Role.COUNTER_OFFICER})
    )
    assert budi.has_role(Role.OPERATOR)
    assert budi.has_role(Role.SECTION_HEAD)
    assert not budi.has_role(Role.COUNTER_OFFICER)
    assert directory.get("budi") == budi
    assert directory.get("nobody") is None
    assert PIN not in repr(directory.members())


def test_the_right_secret_logs_in_and_wrong_or_unknown_fail_alike(
    directory: StaffDirectory,
) -> None:
    assert directory.authenticate("siti", PIN).id == "siti"
    assert directory.authenticate("budi", "kopi-tubruk-7").id == "budi"
    with pytest.raises(AuthenticationFailed) as wrong:
        directory.authenticate("siti", "000000")
    with pytest.raises(AuthenticationFailed) as unknown:
        directory.authenticate("nobody", PIN)
    with pytest.raises(AuthenticationFailed) as malformed:
        directory.authenticate("Not A Name!", PIN)
    assert wrong.value.code == unknown.value.code == malformed.value.code
    assert wrong.value.code == "authentication_failed"
    assert wrong.value.text == unknown.value.text == malformed.value.text
    assert wrong.value.text.id.startswith("Nama login atau PIN")


def test_an_unknown_name_is_verified_against_a_hash_of_the_same_cost(
    directory: StaffDirectory, hasher: RecordingHasher
) -> None:
    def cost(parameters: Parameters) -> tuple[int, int, int, int]:
        return (
            parameters.time_cost,
            parameters.memory_cost,
            parameters.parallelism,
            parameters.hash_len,
        )

    with pytest.raises(AuthenticationFailed):
        directory.authenticate("siti", "000000")
    with pytest.raises(AuthenticationFailed):
        directory.authenticate("nobody", "000000")
    (real, _), (dummy, _) = hasher.verified[-2:]
    assert dummy != real
    assert cost(extract_parameters(dummy)) == cost(extract_parameters(real))


def test_an_empty_directory_still_verifies_at_the_hashers_cost(
    tmp_path: Path, clock: ManualClock
) -> None:
    hasher = RecordingHasher()
    empty = StaffDirectory.load(tmp_path / "missing.toml", clock=clock, hasher=hasher)
    assert empty.members() == ()
    with pytest.raises(AuthenticationFailed):
        empty.authenticate("siti", PIN)
    ((dummy, _),) = hasher.verified
    parameters = extract_parameters(dummy)
    assert (parameters.time_cost, parameters.memory_cost) == (1, 8)


def test_a_new_pin_is_hashed_at_the_stations_light_argon2id_cost(tmp_path: Path) -> None:
    """19 MiB, 2 passes, 1 lane (OWASP's lightest equal setting): a login is not the
    daemon's largest allocation, as argon2-cffi's 64 MiB default made it."""
    path = tmp_path / "staff.toml"
    add_member(path, person_id="siti", name="Siti", roles=[Role.COUNTER_OFFICER], secret=PIN)
    (secret_hash,) = re.findall(r'^secret = "([^"]+)"', path.read_text(), re.MULTILINE)
    parameters = extract_parameters(secret_hash)
    assert (parameters.memory_cost, parameters.time_cost, parameters.parallelism) == (
        19 * 1024,
        2,
        1,
    )


# --- Lockout --------------------------------------------------------------------------


def test_a_name_is_locked_after_max_failures_even_for_the_right_secret_until_it_expires(
    directory: StaffDirectory, clock: ManualClock
) -> None:
    _fail(directory, "siti", 5)
    with pytest.raises(AccountLocked) as locked:
        directory.authenticate("siti", PIN)
    assert locked.value.code == "account_locked"
    assert locked.value.seconds_remaining == 300
    assert "5 menit" in locked.value.text.id
    assert "5 minute" in locked.value.text.en

    clock.advance(299.5)
    with pytest.raises(AccountLocked) as still:
        directory.authenticate("siti", PIN)
    assert still.value.seconds_remaining == 1
    assert directory.authenticate("budi", "kopi-tubruk-7").id == "budi"  # others unaffected

    clock.advance(0.5)
    assert directory.authenticate("siti", PIN).id == "siti"


def test_a_served_lockout_starts_a_fresh_count(
    directory: StaffDirectory, clock: ManualClock
) -> None:
    _fail(directory, "siti", 5)
    clock.advance(LOCKOUT.total_seconds())
    _fail(directory, "siti", 4)
    assert directory.authenticate("siti", PIN).id == "siti"


def test_a_success_resets_the_count(directory: StaffDirectory) -> None:
    _fail(directory, "siti", 4)
    assert directory.authenticate("siti", PIN).id == "siti"
    _fail(directory, "siti", 4)
    assert directory.authenticate("siti", PIN).id == "siti"


def test_unknown_names_lock_like_real_ones_so_a_lockout_reveals_nobody(
    directory: StaffDirectory,
) -> None:
    _fail(directory, "siti", 5)
    _fail(directory, "nobody", 5)
    with pytest.raises(AccountLocked) as real:
        directory.authenticate("siti", PIN)
    with pytest.raises(AccountLocked) as invented:
        directory.authenticate("nobody", PIN)
    assert real.value.text == invented.value.text


def test_the_lockout_is_logged_without_the_secret(directory: StaffDirectory) -> None:
    with capture_logs() as logs:
        for _ in range(5):
            with pytest.raises(AuthenticationFailed):
                directory.authenticate("siti", "secret-guess-991")
    assert [entry["event"] for entry in logs] == ["staff.login_locked"]
    assert logs[0]["person"] == "siti"
    assert "secret-guess-991" not in repr(logs)
    assert "$argon2" not in repr(logs)


async def test_authenticate_async_verifies_in_a_worker_thread(
    directory: StaffDirectory, hasher: RecordingHasher
) -> None:
    member = await directory.authenticate_async("siti", PIN)
    assert member.id == "siti"
    ((_, thread),) = hasher.verified[-1:]
    assert thread != threading.get_ident()
    with pytest.raises(AuthenticationFailed):
        await directory.authenticate_async("nobody", PIN)


async def test_concurrent_attempts_get_no_more_tries_than_max_failures(
    directory: StaffDirectory,
) -> None:
    outcomes = await asyncio.gather(
        *(directory.authenticate_async("siti", f"{n:06d}") for n in range(12)),
        return_exceptions=True,
    )
    assert sum(isinstance(outcome, AuthenticationFailed) for outcome in outcomes) == 5
    assert sum(isinstance(outcome, AccountLocked) for outcome in outcomes) == 7
    with pytest.raises(AccountLocked):
        await directory.authenticate_async("siti", PIN)


class GatedHasher(RecordingHasher):
    """Holds the first verification until the test opens the gate, and notes the most
    verifications ever in progress at once."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.first_entered = asyncio.Event()
        self._loop = loop
        self._lock = threading.Lock()
        self._active = 0
        self.most_at_once = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:  # noqa: A002
        with self._lock:
            self._active += 1
            self.most_at_once = max(self.most_at_once, self._active)
            first = len(self.verified) == 0
        try:
            if first:
                self._loop.call_soon_threadsafe(self.first_entered.set)
                self.gate.wait()
            return super().verify(hash, password)
        finally:
            with self._lock:
                self._active -= 1


async def test_verifications_run_one_at_a_time(staff_file: Path, clock: ManualClock) -> None:
    """Each argon2 verification takes the hash's memory cost (64 MiB by default): logins
    arriving together must not stack that up (the daemon's peak of a simulated day)."""
    hasher = GatedHasher(asyncio.get_running_loop())
    directory = StaffDirectory.load(staff_file, clock=clock, hasher=hasher)
    first = asyncio.create_task(directory.authenticate_async("siti", PIN))
    await hasher.first_entered.wait()
    others = [
        asyncio.create_task(directory.authenticate_async(person, secret))
        for person, secret in [("budi", "kopi-tubruk-7"), ("siti", PIN), ("nobody", PIN)]
    ]
    # Each of them has either queued its verification in the default executor or is
    # waiting its turn; a job queued behind theirs has run once theirs were taken up.
    await asyncio.gather(*(asyncio.to_thread(lambda: None) for _ in range(len(others))))
    hasher.gate.set()
    outcomes = await asyncio.gather(first, *others, return_exceptions=True)
    assert [getattr(outcome, "id", None) for outcome in outcomes[:3]] == ["siti", "budi", "siti"]
    assert isinstance(outcomes[3], AuthenticationFailed)
    assert hasher.most_at_once == 1


# --- Secrets --------------------------------------------------------------------------


@pytest.mark.parametrize("secret", ["123456", "0000000000", "abcdefgh", "kopi 7 x", "12345678a"])
def test_pins_of_six_digits_and_passwords_of_eight_characters_pass(secret: str) -> None:
    check_secret(secret)


@pytest.mark.parametrize(
    ("secret", "indonesian"),
    [
        ("12345", "PIN harus sedikitnya 6 angka"),
        ("", "kata sandi sedikitnya 8 karakter"),
        ("abcdefg", "kata sandi sedikitnya 8 karakter"),
        # Full-width digits are not a PIN a keypad can type: judged as a password.
        ("\uff11\uff12\uff13\uff14\uff15\uff16", "kata sandi sedikitnya 8 karakter"),
    ],
)
def test_weak_secrets_are_refused_in_both_languages(secret: str, indonesian: str) -> None:
    with pytest.raises(WeakSecret) as refused:
        check_secret(secret)
    assert refused.value.code == "weak_secret"
    assert indonesian in refused.value.text.id
    assert "at least" in refused.value.text.en


def test_add_member_refuses_a_weak_secret_before_touching_the_file(
    tmp_path: Path, hasher: RecordingHasher
) -> None:
    path = tmp_path / "staff.toml"
    with pytest.raises(WeakSecret):
        add_member(
            path, person_id="siti", name="Siti", roles=[Role.OPERATOR], secret="1234", hasher=hasher
        )
    assert not path.exists()


def test_set_secret_replaces_the_pin(
    staff_file: Path, clock: ManualClock, hasher: RecordingHasher
) -> None:
    set_secret(staff_file, "siti", "771204", hasher=hasher)
    directory = StaffDirectory.load(staff_file, clock=clock, hasher=hasher)
    assert directory.authenticate("siti", "771204").id == "siti"
    with pytest.raises(AuthenticationFailed):
        directory.authenticate("siti", PIN)
    assert directory.authenticate("budi", "kopi-tubruk-7").id == "budi"
    with pytest.raises(UnknownPerson) as unknown:
        set_secret(staff_file, "nobody", "771204", hasher=hasher)
    assert unknown.value.code == "unknown_person"
    with pytest.raises(WeakSecret):
        set_secret(staff_file, "siti", "1", hasher=hasher)


# --- The file -------------------------------------------------------------------------


def test_the_file_is_written_owner_only_and_holds_only_hashes(staff_file: Path) -> None:
    assert _mode(staff_file) == 0o600
    text = staff_file.read_text(encoding="utf-8")
    assert PIN not in text
    assert "kopi-tubruk-7" not in text
    assert text.count('secret = "$argon2id$') == 2
    assert [p.name for p in staff_file.parent.iterdir()] == ["staff.toml"]  # no temp left


def test_a_duplicate_id_is_refused_and_the_file_left_alone(
    staff_file: Path, hasher: RecordingHasher
) -> None:
    before = staff_file.read_bytes()
    with pytest.raises(DuplicatePerson) as duplicate:
        add_member(
            staff_file,
            person_id="siti",
            name="Another Siti",
            roles=[Role.OPERATOR],
            secret="135790",
            hasher=hasher,
        )
    assert duplicate.value.code == "duplicate_person"
    assert staff_file.read_bytes() == before


@pytest.mark.parametrize(
    ("person_id", "name", "roles", "field"),
    [
        ("Siti", "Siti", [Role.OPERATOR], "id"),
        ("s", "Siti", [Role.OPERATOR], "id"),
        ("siti", "", [Role.OPERATOR], "name"),
        ("siti", "Siti\nAminah", [Role.OPERATOR], "name"),
        ("siti", "Siti", [], "roles"),
        ("siti", "Siti", [Role.APPLICANT], "roles[0]"),
    ],
)
def test_add_member_refuses_a_bad_id_name_or_role(
    tmp_path: Path,
    hasher: RecordingHasher,
    person_id: str,
    name: str,
    roles: list[Role],
    field: str,
) -> None:
    path = tmp_path / "staff.toml"
    with pytest.raises(InvalidPerson) as invalid:
        add_member(path, person_id=person_id, name=name, roles=roles, secret=PIN, hasher=hasher)
    assert invalid.value.code == "invalid_person"
    assert invalid.value.field == field
    assert not path.exists()


def test_a_file_others_can_read_is_refused_with_a_clear_message(
    staff_file: Path, clock: ManualClock
) -> None:
    staff_file.chmod(0o644)
    with pytest.raises(StaffFileError) as refused:
        StaffDirectory.load(staff_file, clock=clock)
    message = str(refused.value)
    assert str(staff_file) in message
    assert "mode is 0644, must be 0600" in message
    assert "mode berkas 0644" in refused.value.text.id


_SECRET = "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHRzYWx0$3W0XvS7+GZkV3p7Ivu8kc3p4XJdlXtSfvmkfz+T7Yyo"


def _person(*, person_id: str = "siti", roles: str = '["operator"]', secret: str = _SECRET) -> str:
    return f'[[person]]\nid = "{person_id}"\nname = "Siti"\nroles = {roles}\nsecret = "{secret}"\n'


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        (_person(roles='["pemohon"]'), "person[0].roles[0]", "'pemohon' is not a staff role"),
        (_person(roles='["lurah"]'), "person[0].roles[0]", "not a staff role"),
        (_person(roles="[]"), "person[0].roles", "at least 1 item"),
        (_person(person_id="Siti Aminah"), "person[0].id", "should match pattern"),
        (_person() + _person(), "person[1].id", "duplicate id 'siti' (also person[0])"),
        (_person(secret="482913"), "person[0].secret", "not an argon2id hash"),
        (_person() + "pin = 1\n", "person[0].pin", "unknown key"),
        ('[[person]]\nid = "siti"\n', "person[0].name", "required key is missing"),
        ("[[person]\nid = ", None, "not valid TOML"),
    ],
)
def test_a_malformed_file_names_the_file_the_key_and_the_problem(
    tmp_path: Path, clock: ManualClock, text: str, key: str | None, problem: str
) -> None:
    path = _write_private(tmp_path / "staff.toml", text)
    with pytest.raises(StaffFileError) as refused:
        StaffDirectory.load(path, clock=clock)
    error = refused.value
    assert error.code == "staff_file"
    assert error.file == path
    assert error.key == key
    assert problem in str(error)
    assert str(error).startswith(f"{path}: {key}: " if key else f"{path}: ")
    assert "482913" not in str(error)


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path, clock: ManualClock) -> None:
    path = tmp_path / "staff.toml"
    path.write_bytes(b"\xff\xfe")
    path.chmod(0o600)
    with pytest.raises(StaffFileError, match="not UTF-8"):
        StaffDirectory.load(path, clock=clock)


def test_the_staff_file_lives_in_the_state_directory_by_default(tmp_path: Path) -> None:
    config_file = _write_private(
        tmp_path / "station.toml", '[station]\nid = "s1"\n[paths]\nstate_dir = "state"\n'
    )
    config = load_config(config_file)
    assert config.staff_path == tmp_path / "state" / "staff.toml"
    assert config.staff.session_idle == timedelta(minutes=480)
    assert (config.staff.max_failures, config.staff.lockout) == (5, timedelta(minutes=5))


# --- Sessions -------------------------------------------------------------------------

SITI = StaffMember(id="siti", name="Siti Aminah", roles=frozenset({Role.COUNTER_OFFICER}))
BUDI = StaffMember(id="budi", name="Budi Santoso", roles=frozenset({Role.OPERATOR}))


def test_a_session_resolves_to_its_member_until_closed(clock: ManualClock) -> None:
    sessions = Sessions(clock=clock)
    token = sessions.open(SITI)
    other = sessions.open(SITI)
    assert len(token) >= 43
    assert token != other
    assert sessions.resolve(token) == SITI
    assert sessions.resolve("not-a-token") is None
    sessions.close(token)
    assert sessions.resolve(token) is None
    assert sessions.resolve(other) == SITI
    sessions.close(token)  # closing twice is harmless


def test_an_idle_session_expires_and_each_use_restarts_the_idle_timer(
    clock: ManualClock,
) -> None:
    sessions = Sessions(clock=clock, idle=timedelta(minutes=30))
    token = sessions.open(SITI)
    clock.advance(30 * 60)
    assert sessions.resolve(token) == SITI  # exactly the idle time: not longer
    clock.advance(29 * 60)
    assert sessions.resolve(token) == SITI
    clock.advance(30 * 60 + 0.001)
    assert sessions.resolve(token) is None
    assert len(sessions) == 0


def test_close_all_ends_every_session_of_one_person(clock: ManualClock) -> None:
    sessions = Sessions(clock=clock)
    siti_tokens = [sessions.open(SITI) for _ in range(3)]
    budi_token = sessions.open(BUDI)
    assert sessions.close_all("siti") == 3
    assert all(sessions.resolve(token) is None for token in siti_tokens)
    assert sessions.resolve(budi_token) == BUDI


def test_sessions_are_bounded_dropping_the_least_recently_used(clock: ManualClock) -> None:
    sessions = Sessions(clock=clock, capacity=3)
    first, second, third = (sessions.open(SITI) for _ in range(3))
    assert sessions.resolve(first) == SITI  # now `second` is the least recently used
    fourth = sessions.open(BUDI)
    assert len(sessions) == 3
    assert sessions.resolve(second) is None
    assert [sessions.resolve(token) for token in (first, third, fourth)] == [SITI, SITI, BUDI]


def test_opening_a_session_clears_out_idle_ones(clock: ManualClock) -> None:
    sessions = Sessions(clock=clock, idle=timedelta(minutes=1))
    for _ in range(5):
        sessions.open(SITI)
    clock.advance(61)
    sessions.open(BUDI)
    assert len(sessions) == 1


# --- The command line -----------------------------------------------------------------


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "station.toml"
    path.write_text('[station]\nid = "lumajang-01"\n[paths]\nstate_dir = "state"\n')
    return path


def _cli(monkeypatch: pytest.MonkeyPatch, args: list[str], *, stdin: str = "") -> tuple[int, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    out = io.StringIO()
    code = run(args, stdout=out)
    return code, out.getvalue()


def test_cli_adds_lists_and_changes_a_pin_without_ever_printing_it(
    config_file: Path,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = ["--config", str(config_file)]
    code, out = _cli(
        monkeypatch,
        [
            "staff",
            "add",
            *config,
            "--id",
            "siti",
            "--name",
            "Siti Aminah",
            "--role",
            "petugas_loket",
        ],
        stdin=f"{PIN}\n",
    )
    assert code == 0
    assert out == "petugas ditambahkan: siti (Siti Aminah), peran: Petugas Loket\n"
    code, out = _cli(
        monkeypatch,
        [
            "--lang", "en", "staff", "add", *config, "--id", "budi", "--name", "Budi",
            "--role", "operator", "--role", "kasi_yanmum",
        ],
        stdin="kopi-tubruk-7",
    )  # fmt: skip
    assert code == 0
    assert "roles: Head of the public services section (Kasi Yanmum), SIAK operator" in out

    code, out = _cli(monkeypatch, ["--lang", "en", "staff", "list", *config])
    assert code == 0
    assert out.splitlines() == [
        "siti\tSiti Aminah\tCounter officer",
        "budi\tBudi\tHead of the public services section (Kasi Yanmum), SIAK operator",
    ]

    code, out = _cli(monkeypatch, ["staff", "passwd", *config, "--id", "siti"], stdin="771204\n")
    assert code == 0
    assert out == "PIN/kata sandi siti diganti\n"

    staff_path = load_config(config_file).staff_path
    assert _mode(staff_path) == 0o600
    directory = StaffDirectory.load(staff_path, clock=clock)
    assert directory.authenticate("siti", "771204").id == "siti"
    assert directory.authenticate("budi", "kopi-tubruk-7").id == "budi"
    captured = capsys.readouterr()
    for secret in (PIN, "771204", "kopi-tubruk-7"):
        assert secret not in captured.out + captured.err


def test_cli_refuses_a_weak_pin_a_taken_id_and_an_unknown_person_with_exit_2(
    config_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    add = ["staff", "add", "--config", str(config_file), "--name", "Siti", "--role", "operator"]
    assert _cli(monkeypatch, [*add, "--id", "siti"], stdin="12345\n") == (2, "")
    assert "PIN harus sedikitnya 6 angka" in capsys.readouterr().err
    assert _cli(monkeypatch, [*add, "--id", "siti"], stdin="") == (2, "")
    assert _cli(monkeypatch, [*add, "--id", "siti"], stdin=f"{PIN}\n")[0] == 0
    assert _cli(monkeypatch, ["--lang", "en", *add, "--id", "siti"], stdin="135790\n") == (2, "")
    assert "'siti' is taken already" in capsys.readouterr().err
    assert _cli(monkeypatch, [*add, "--id", "Siti Aminah"], stdin=f"{PIN}\n") == (2, "")
    assert "id: format tidak sesuai" in capsys.readouterr().err

    passwd = ["staff", "passwd", "--config", str(config_file)]
    assert _cli(monkeypatch, [*passwd, "--id", "nobody"], stdin="771204\n") == (2, "")
    assert "Tidak ada petugas dengan nama login 'nobody'" in capsys.readouterr().err

    with pytest.raises(SystemExit) as usage:
        _cli(monkeypatch, [*add, "--id", "rina", "--role", "pemohon"], stdin=f"{PIN}\n")
    assert usage.value.code == 2
    captured = capsys.readouterr()
    for secret in (PIN, "12345", "135790", "771204"):
        assert secret not in captured.out + captured.err


def test_cli_maps_a_bad_staff_file_to_exit_2_with_its_message(
    config_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    staff_path = load_config(config_file).staff_path
    staff_path.parent.mkdir()
    _write_private(staff_path, _person(roles='["pemohon"]'))
    assert _cli(monkeypatch, ["staff", "list", "--config", str(config_file)]) == (2, "")
    assert f"{staff_path}: person[0].roles[0]:" in capsys.readouterr().err
    staff_path.chmod(0o640)
    assert _cli(monkeypatch, ["staff", "list", "--config", str(config_file)]) == (2, "")
    assert "mode berkas 0640, harus 0600" in capsys.readouterr().err


def test_cli_list_of_no_staff_says_so_on_stderr(
    config_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _cli(monkeypatch, ["staff", "list", "--config", str(config_file)]) == (0, "")
    assert "belum ada petugas" in capsys.readouterr().err


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_at_a_terminal_the_pin_is_asked_twice_and_must_match(
    config_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = iter([PIN, "999999", PIN, PIN])
    prompts: list[str] = []

    def fake_getpass(prompt: str = "") -> str:
        prompts.append(prompt)
        return next(answers)

    monkeypatch.setattr("sys.stdin", _Terminal())
    monkeypatch.setattr("getpass.getpass", fake_getpass)
    add = ["staff", "add", "--config", str(config_file), "--id", "siti", "--name", "Siti"]
    assert run([*add, "--role", "operator"], stdout=io.StringIO()) == 2
    assert "kedua isian tidak sama" in capsys.readouterr().err
    assert not load_config(config_file).staff_path.exists()
    assert run([*add, "--role", "operator"], stdout=io.StringIO()) == 0
    assert prompts == ["PIN atau kata sandi baru: ", "Ulangi: "] * 2


def test_a_reload_names_who_changed_and_keeps_the_lockouts(
    directory: StaffDirectory, staff_file: Path, hasher: RecordingHasher
) -> None:
    _fail(directory, "siti", 5)
    add_member(
        staff_file, person_id="rina", name="Rina", roles=[Role.OPERATOR], secret=PIN, hasher=hasher
    )
    set_secret(staff_file, person_id="budi", secret="teh-manis-9", hasher=hasher)
    assert directory.reload(staff_file) == ["budi"]
    assert [member.id for member in directory.members()] == ["siti", "budi", "rina"]
    with pytest.raises(AccountLocked):
        directory.authenticate("siti", PIN)


def test_a_reload_that_would_leave_nobody_changes_nothing(
    directory: StaffDirectory, staff_file: Path
) -> None:
    staff_file.unlink()  # a file gone missing reads as empty
    with pytest.raises(StaffFileError, match="nobody left"):
        directory.reload(staff_file)
    assert [member.id for member in directory.members()] == ["siti", "budi"]
