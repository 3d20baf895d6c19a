"""`appliance demo`: an office day, end to end through what the station has today.

Until the device layer and the pipeline exist, the day runs at the register level: each
applicant takes a ticket, hands in a file that the counter checks against the service's
requirements, the section head validates the NIK against the declared birth date and
sex and the new-card eligibility, and valid files move through the SOP steps, using and
sometimes spoiling blank cards from the office's stock. Every decision is made by the
domain rules, every transition is a signed register event, and the summary is read back
from the register and its verification, not from the scenario.
"""

from __future__ import annotations

import hashlib
import random
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TextIO

from appliance._text import Language, Text
from appliance.config import Config, load_config
from appliance.domain import (
    Document,
    DomainError,
    MaritalStatus,
    Role,
    ServiceType,
    Sex,
    Step,
    check_new_card_eligibility,
    check_nik_matches,
    compose_kk,
    compose_nik,
    missing_documents,
    required_documents,
)
from appliance.keys import init_keys
from appliance.register import (
    EventType,
    Register,
    SpoilReason,
    StationKey,
    export_csv,
    verify_register,
)

_SERVICE_MIX = (
    (ServiceType.BARU, 0.55),
    (ServiceType.PINDAH_DATANG, 0.15),
    (ServiceType.HILANG, 0.12),
    (ServiceType.RUSAK, 0.10),
    (ServiceType.PERUBAHAN_DATA, 0.08),
)
_NAMES = (
    "Ahmad Fauzi",
    "Siti Aminah",
    "Budi Santoso",
    "Dewi Lestari",
    "Eko Prasetyo",
    "Fitri Handayani",
    "Gunawan Wibowo",
    "Hartini",
    "Imam Syafii",
    "Joko Susilo",
    "Kartika Sari",
    "Lukman Hakim",
    "Maya Puspita",
    "Nur Hidayah",
    "Rudi Hartono",
)
_REGIONS = ("350801", "350802", "350810", "350815", "357801")
_OFFICERS = {
    Role.COUNTER_OFFICER: "petugas.loket",
    Role.SECTION_HEAD: "kasi.yanmum",
    Role.OPERATOR: "operator.siak",
}
_STEPS_AFTER_VALIDATE = (Step.BIOMETRIC, Step.ENCODE_PRINT)
_STEPS_AFTER_PRINT = (Step.ACTIVATE, Step.TRANSFER, Step.HANDOVER)


@dataclass(frozen=True, slots=True)
class Applicant:
    name: str
    service: ServiceType
    nik: str
    kk: str
    birth_date: date
    sex: Sex
    marital_status: MaritalStatus
    documents: tuple[Document, ...]
    declared_birth_date: date
    recorded_before: bool


@dataclass(slots=True)
class _Tally:
    returned_at_check: int = 0
    returned_at_validate: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


def run_demo(
    *,
    state_dir: Path | None,
    applicants: int,
    seed: int,
    language: Language,
    out: TextIO,
) -> int:
    with _state_directory(state_dir) as directory:
        config = _write_config(directory)
        init_keys(config)
        started = time.perf_counter()
        register = Register.open(
            config.register_path,
            station_id=config.station.id,
            key=StationKey.load(config.station_key_path),
        )
        with register:
            # A seeded, reproducible scenario, not a secret: the standard generator fits.
            rng = random.Random(seed)  # noqa: S311
            tally = _office_day(register, rng, applicants, config)
            events = register.head()[0]
            stock = register.blank_stock()
            states = _states(register)
            csv_path = directory / "register.csv"
            with csv_path.open("w", encoding="utf-8", newline="") as stream:
                export_csv(register.events(), stream, timezone=config.zone, language=language)
        elapsed = time.perf_counter() - started
        report = verify_register(
            config.register_path, StationKey.load(config.station_key_path).public_key
        )
        lines = _summary(
            applicants=applicants,
            states=states,
            tally=tally,
            events=events,
            elapsed=elapsed,
            stock=(stock.received, stock.issued, stock.spoiled, stock.available),
            verified=str(report.defect) if report.defect else None,
            csv_path=csv_path if state_dir else None,
        )
        for line in lines:
            print(line.in_language(language), file=out)
        return 0 if report.ok else 1


@contextmanager
def _state_directory(state_dir: Path | None) -> Iterator[Path]:
    if state_dir is not None:
        state_dir.mkdir(parents=True, exist_ok=True)
        yield state_dir
        return
    with tempfile.TemporaryDirectory(prefix="ktpel-demo-") as tmp:
        yield Path(tmp)


def _write_config(directory: Path) -> Config:
    path = directory / "station.toml"
    if not path.exists():
        path.write_text(
            '[station]\nid = "lumajang-demo"\noffice = "Kecamatan Lumajang"\n'
            '\n[paths]\nstate_dir = "."\n\n[logging]\nlevel = "warning"\n',
            encoding="utf-8",
        )
    return load_config(path)


def _make_applicant(rng: random.Random, today: date) -> Applicant:
    service = rng.choices([s for s, _ in _SERVICE_MIX], [w for _, w in _SERVICE_MIX])[0]
    sex = rng.choice(list(Sex))
    # Mostly adults; some 16-year-olds, who qualify only if married.
    age_days = rng.choice(
        [rng.randint(17 * 366, 70 * 365), rng.randint(16 * 365 + 2, 17 * 365 - 2)]
    )
    birth = today - timedelta(days=age_days)
    marital = rng.choices(list(MaritalStatus), [50, 40, 5, 5])[0]
    nik = compose_nik(
        region=rng.choice(_REGIONS), birth_date=birth, sex=sex, serial=rng.randint(1, 9999)
    )
    kk = compose_kk(
        region=nik[:6],
        issued=today - timedelta(days=rng.randint(30, 3000)),
        serial=rng.randint(1, 9999),
    )
    documents = list(required_documents(service))
    if rng.random() < 0.12 and documents:
        documents.remove(rng.choice(documents))  # forgot one
    # Now and then the form's birth date does not agree with the NIK (a typo, or the
    # wrong person's papers): the section head must catch it.
    declared = birth if rng.random() > 0.06 else birth + timedelta(days=rng.randint(1, 400))
    return Applicant(
        name=rng.choice(_NAMES),
        service=service,
        nik=nik,
        kk=kk,
        birth_date=birth,
        sex=sex,
        marital_status=marital,
        documents=tuple(documents),
        declared_birth_date=declared,
        recorded_before=service is not ServiceType.BARU or rng.random() < 0.1,
    )


def _by(role: Role) -> dict[str, str]:
    return {"role": role.value, "person": _OFFICERS[role]}


def _office_day(register: Register, rng: random.Random, count: int, config: Config) -> _Tally:
    today = date.today()  # noqa: DTZ011 - the office's calendar day is what the ticket shows
    tally = _Tally()
    register.append(
        EventType.BLANK_RECEIVED,
        {
            "count": max(1, int(count * 0.7)),
            "reference": "BA-DUKCAPIL/2026/117",
            "by": _by(Role.OPERATOR),
        },
    )
    for number in range(1, count + 1):
        person = _make_applicant(rng, today)
        ticket = f"{person.service.value[0].upper()}-{number:03d}"
        app = f"{config.station.id}-{today:%Y%m%d}-{number:04d}"
        register.append(
            EventType.QUEUE_TICKET_ISSUED,
            {"day": today, "ticket": ticket, "service": person.service, "number": number},
        )
        register.append(
            EventType.QUEUE_CALLED,
            {"day": today, "ticket": ticket, "counter": "loket-1", "by": _by(Role.COUNTER_OFFICER)},
        )
        register.append(
            EventType.APPLICATION_SUBMITTED,
            {
                "service": person.service,
                "nik": person.nik,
                "kk": person.kk,
                "name": person.name,
                "birth_date": person.declared_birth_date,
                "sex": person.sex,
                "marital_status": person.marital_status,
                "documents": person.documents,
                "ticket": ticket,
                "by": _by(Role.COUNTER_OFFICER),
            },
            application_id=app,
        )
        _serve(register, rng, app=app, person=person, today=today, tally=tally)
    return tally


def _serve(
    register: Register,
    rng: random.Random,
    *,
    app: str,
    person: Applicant,
    today: date,
    tally: _Tally,
) -> None:
    missing = missing_documents(person.service, person.documents)
    if missing:
        tally.returned_at_check += 1
        register.append(
            EventType.APPLICATION_RETURNED,
            {
                "step": Step.CHECK,
                "reason": "berkas belum lengkap",
                "missing_documents": missing,
                "by": _by(Role.COUNTER_OFFICER),
            },
            application_id=app,
        )
        return
    _advance(register, app, Step.CHECK, Role.COUNTER_OFFICER)
    _advance(register, app, Step.VALIDATE, Role.COUNTER_OFFICER)
    try:
        check_nik_matches(person.nik, birth_date=person.declared_birth_date, sex=person.sex)
        if person.service is ServiceType.BARU:
            check_new_card_eligibility(
                birth_date=person.declared_birth_date,
                marital_status=person.marital_status,
                on=today,
            )
    except DomainError as exc:
        tally.returned_at_validate += 1
        tally.reasons[exc.code] = tally.reasons.get(exc.code, 0) + 1
        register.append(
            EventType.APPLICATION_RETURNED,
            {"step": Step.VALIDATE, "reason": exc.text.id, "by": _by(Role.SECTION_HEAD)},
            application_id=app,
        )
        return
    for step in _STEPS_AFTER_VALIDATE:
        if step is Step.BIOMETRIC and person.recorded_before:
            continue  # recorded once in a lifetime (seed 001, 4.3)
        _advance(
            register, app, step, Role.SECTION_HEAD if step is Step.BIOMETRIC else Role.OPERATOR
        )
    serial = _print_card(register, rng, app)
    if serial is None:
        return  # recorded, not printed: waits at encode_print for a blank card
    for step in _STEPS_AFTER_PRINT:
        _advance(register, app, step, Role.OPERATOR)
        if step is Step.ACTIVATE:  # the holder's finger matched: the blank is used for good
            register.append(EventType.BLANK_ISSUED, {"card_serial": serial}, application_id=app)
    register.append(
        EventType.APPLICATION_COMPLETED, {"by": _by(Role.COUNTER_OFFICER)}, application_id=app
    )


def _advance(register: Register, app: str, step: Step, role: Role) -> None:
    register.append(
        EventType.APPLICATION_ADVANCED, {"step": step, "by": _by(role)}, application_id=app
    )


def _print_card(register: Register, rng: random.Random, app: str) -> str | None:
    """Feed a blank and follow it to the printed card; a jam spoils it and the next blank
    is fed. With no blank left the applicant gets a Surat Keterangan and waits."""
    while register.blank_stock().available > 0:
        serial = f"KTP{rng.randrange(16**8):08X}"
        register.append(EventType.BLANK_FED, {"printer": "card_printer"}, application_id=app)
        if rng.random() < 0.05:
            register.append(
                EventType.BLANK_SPOILED,
                {"reason": SpoilReason.JAM, "detail": "kartu macet di printer"},
                application_id=app,
            )
            continue
        register.append(
            EventType.CARD_PERSONALISED,
            {
                "card_serial": serial,
                "security_object_sha256": hashlib.sha256(serial.encode()).hexdigest(),
                "chip_fingers": (2, 7),
            },
            application_id=app,
        )
        register.append(EventType.CARD_PRINTED, {"card_serial": serial}, application_id=app)
        return serial
    register.append(
        EventType.SURAT_KETERANGAN_ISSUED,
        {"number": f"SK-{app}", "by": _by(Role.OPERATOR)},
        application_id=app,
    )
    return None


def _states(register: Register) -> dict[str, int]:
    counts: dict[str, int] = {}
    for event in register.events():
        if event.type == EventType.APPLICATION_SUBMITTED and event.app:
            state = register.application(event.app)
            key = str(state and state["state"])
            counts[key] = counts.get(key, 0) + 1
    return counts


def _summary(
    *,
    applicants: int,
    states: dict[str, int],
    tally: _Tally,
    events: int,
    elapsed: float,
    stock: tuple[int, int, int, int],
    verified: str | None,
    csv_path: Path | None,
) -> list[Text]:
    received, issued, spoiled, available = stock
    lines = [
        Text("== Ringkasan hari layanan ==", "== Summary of the service day =="),
        Text("pemohon: {n}", "applicants: {n}").format(n=applicants),
        Text("KTP-el diserahkan: {n}", "KTP-el handed over: {n}").format(
            n=states.get("completed", 0)
        ),
        Text(
            "dikembalikan di loket (berkas belum lengkap): {n}",
            "returned at the counter (incomplete file): {n}",
        ).format(n=tally.returned_at_check),
        Text(
            "dikembalikan saat validasi (data tidak sah): {n} {why}",
            "returned at validation (invalid data): {n} {why}",
        ).format(n=tally.returned_at_validate, why=dict(sorted(tally.reasons.items())) or ""),
        Text(
            "sudah direkam, belum dicetak (menunggu blangko): {n}",
            "recorded, not printed (waiting for a blank card): {n}",
        ).format(n=states.get("waiting_blank", 0)),
        Text(
            "blangko: diterima {r}, terpakai {i}, rusak {s}, sisa {a}",
            "blank cards: received {r}, issued {i}, spoiled {s}, left {a}",
        ).format(r=received, i=issued, s=spoiled, a=available),
        Text(
            "register: {e} kejadian ditandatangani dalam {t:.2f} s ({r:.0f} kejadian/s)",
            "register: {e} signed events in {t:.2f} s ({r:.0f} events/s)",
        ).format(e=events, t=elapsed, r=events / elapsed if elapsed else 0),
    ]
    if verified is None:
        lines.append(Text("verifikasi register: utuh", "register verification: intact"))
    else:
        lines.append(
            Text("verifikasi register GAGAL: {d}", "register verification FAILED: {d}").format(
                d=verified
            )
        )
    if csv_path is not None:
        lines.append(
            Text("buku register (CSV): {p}", "register book (CSV): {p}").format(p=csv_path)
        )
    return lines
