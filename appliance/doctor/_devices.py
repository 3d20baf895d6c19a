"""Every configured device: ready, or why not and what to do about it.

Either from the daemon's view of its devices (`findings_from_daemon_status`), or, when no
daemon holds them, by opening each one, learning who it is and closing it again. Either
way `device_finding` turns a device's status into words for a technician: the likely
cause (unplugged, no permission, held by another program, silent, garbled...) and the
advice that fits it and the device's configuration.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Final

from appliance._text import Text
from appliance.config import Config
from appliance.hal import (
    FAULT_CODES,
    UDEV_RULES_FILE,
    Checklist,
    ConfiguredDevice,
    Device,
    DeviceConfig,
    DeviceError,
    DeviceIdentity,
    DeviceKind,
    DeviceState,
    DeviceStatus,
    build_devices,
    device_kind,
    device_type_of,
    status_for,
)
from appliance.logs import get_logger

from ._limits import DoctorLimits
from ._report import _REPORT_TO_SUPPORT, Finding, Level, _capitalised

log = get_logger(__name__)


# What the drivers' details say when the OS refused access (errno 13, as pyserial and
# libusb spell it) or when another program holds the device (errno 16, a serial port's
# exclusive lock, a claimed USB interface, a PC/SC sharing violation).
_PERMISSION_MARKERS: Final = (
    "errno 13",
    "permission denied",
    "access denied",
    "insufficient permissions",
    "udev rule",
)
_HELD_MARKERS: Final = (
    "errno 16",
    "resource busy",
    "exclusively lock",
    "claimed by another program",
    "another program holds",
)


_ANY_DEVICE: Final = Text("perangkat", "device")


class _Cause(StrEnum):
    """Why a device cannot be used, as far as the advice differs."""

    NOT_FOUND = "not_found"
    PERMISSION = "permission"
    HELD_ELSEWHERE = "held_elsewhere"
    NO_ANSWER = "no_answer"
    GARBAGE = "garbage"
    CARD_SERVICE_DOWN = "card_service_down"
    NO_USB_LIBRARY = "no_usb_library"
    FAULT = "fault"


async def _probe_devices(config: Config, limits: DoctorLimits) -> list[Finding]:
    """Open every device at once, each within its bound; then close them all."""
    devices = build_devices(config.devices)
    try:
        statuses = await asyncio.gather(*(_open(device, limits) for device in devices))
    finally:
        await asyncio.gather(*(_close(device, limits) for device in devices))
    return [
        device_finding(
            name=device.name,
            kind=device.kind,
            status=status,
            identity=device.identity if status.state is not DeviceState.DISCONNECTED else None,
            device_config=config.devices.get(device.name),
        )
        for device, status in zip(devices, statuses, strict=True)
    ]


async def _open(device: Device, limits: DoctorLimits) -> DeviceStatus:
    bound_s = device.connect_timeout_s + limits.device_margin_s
    try:
        # The driver bounds its own connect; this bound holds even if it did not.
        async with asyncio.timeout(bound_s):
            await device.connect()
    except DeviceError as error:
        return error.status
    except TimeoutError:
        return status_for("not_responding", f"no answer within {bound_s:g} s of opening")
    except Exception as exc:  # a driver's bug is this device's finding
        log.exception("doctor_device_open_failed", device=device.name)
        return status_for("device_error", f"{type(exc).__name__}: {exc}")
    return device.status


async def _close(device: Device, limits: DoctorLimits) -> None:
    try:
        async with asyncio.timeout(limits.disconnect_s):
            await device.disconnect()
    except TimeoutError:
        log.warning("doctor_device_close_timeout", device=device.name)


def findings_from_daemon_status(config: Config, devices: Mapping[str, Any]) -> list[Finding]:
    """Findings from the daemon's view of its devices (`DeviceSupervisor.snapshot()`)."""
    findings = []
    for name, entry in devices.items():
        try:
            kind, status, identity = _parse_device_entry(entry)
        except (KeyError, TypeError, ValueError) as exc:
            findings.append(
                Finding(
                    check=f"device:{name}",
                    level=Level.WARNING,
                    text=Text(
                        "Status {name} dari daemon tidak terbaca ({error})",
                        "The daemon's status of {name} is unreadable ({error})",
                    ).format(name=name, error=exc),
                    advice=_REPORT_TO_SUPPORT,
                )
            )
            continue
        findings.append(
            device_finding(
                name=str(name),
                kind=kind,
                status=status,
                identity=identity,
                device_config=config.devices.get(str(name)),
            )
        )
    findings.extend(_unknown_to_daemon(name) for name in config.devices if name not in devices)
    return findings


def _parse_device_entry(
    entry: Mapping[str, Any],
) -> tuple[DeviceKind | None, DeviceStatus, DeviceIdentity | None]:
    kind = device_kind(str(entry.get("kind")))
    reason = entry.get("reason")
    code = entry.get("code")
    status = DeviceStatus(
        DeviceState(entry["state"]),
        None if code is None else str(code),
        None if reason is None else Text(str(reason["id"]), str(reason["en"])),
    )
    found = entry.get("identity")
    identity = None if found is None else DeviceIdentity(**{k: str(v) for k, v in found.items()})
    return kind, status, identity


def _unknown_to_daemon(name: str) -> Finding:
    return Finding(
        check=f"device:{name}",
        level=Level.WARNING,
        text=Text(
            "{name} ada di konfigurasi tetapi tidak dikenal daemon yang berjalan",
            "{name} is in the configuration but unknown to the running daemon",
        ).format(name=name),
        advice=Text(
            "Konfigurasi berubah sejak daemon dijalankan: `sudo systemctl restart ktpel-station`.",
            "The configuration changed since the daemon started: "
            "`sudo systemctl restart ktpel-station`.",
        ),
    )


def device_finding(
    *,
    name: str,
    kind: DeviceKind | None,
    status: DeviceStatus,
    identity: DeviceIdentity | None,
    device_config: DeviceConfig | None,
) -> Finding:
    """What a device's status means to a technician, and what to do about it."""
    label = _ANY_DEVICE if kind is None else kind.label
    subject = Text("{label} ({name})", "{label} ({name})").format(label=label, name=name)
    subject = _capitalised(subject)
    details = {
        "name": name,
        "kind": None if kind is None else kind.value,
        **status.to_json(),
        "identity": None if identity is None else identity.to_json(),
    }
    reason = status.reason or FAULT_CODES["device_error"].text
    if status.state in (DeviceState.READY, DeviceState.BUSY) and status.code is None:
        how = (
            Text("siap", "ready")
            if status.state is DeviceState.READY
            else Text("sedang dipakai", "in use")
        )
        text = Text("{subject}: {how}", "{subject}: {how}").format(subject=subject, how=how)
        if identity is not None:
            text = Text("{text} — {identity}", "{text} — {identity}").format(
                text=text, identity=_identity_text(identity)
            )
        return Finding(check=f"device:{name}", level=Level.OK, text=text, details=details)
    if status == status_for("disconnected"):
        # The daemon's status before its first attempt, and between a disconnect and the
        # next attempt: nothing has failed yet, so there is nothing to diagnose yet.
        return Finding(
            check=f"device:{name}",
            level=Level.WARNING,
            text=Text(
                "{subject}: daemon sedang menyambungkannya",
                "{subject}: the daemon is connecting it",
            ).format(subject=subject),
            advice=Text(
                "Jalankan doctor lagi sebentar lagi. Jika tetap begini: {check}",
                "Run the doctor again in a moment. If it stays so: {check}",
            ).format(check=_not_found_advice(name, label, device_config)),
            details=details,
        )
    text = Text("{subject}: {reason}", "{subject}: {reason}").format(subject=subject, reason=reason)
    if status.state in (DeviceState.READY, DeviceState.BUSY, DeviceState.NOT_READY):
        # It answers and says what it needs (paper, ribbon, a jam): its own words are the
        # advice, except when it says another program holds it.
        spec = FAULT_CODES.get(status.code or "")
        advice = None if spec is None else spec.text
        if status.code == "device_busy":
            advice = _advice(_Cause.HELD_ELSEWHERE, name, label, device_config)
        return Finding(
            check=f"device:{name}",
            level=Level.PROBLEM if status.state is DeviceState.NOT_READY else Level.WARNING,
            text=text,
            advice=advice,
            details=details,
        )
    cause = _cause(status)
    return Finding(
        check=f"device:{name}",
        level=Level.PROBLEM,
        text=text,
        advice=_advice(cause, name, label, device_config),
        details={**details, "cause": cause.value},
    )


def _identity_text(identity: DeviceIdentity) -> Text:
    make, model = identity.make, identity.model
    # A PC/SC reader's name already begins with its maker's.
    model = (model if model.startswith(make) else f"{make} {model}".strip()) or "?"
    parts = [Text(model, model)]
    if identity.serial:
        parts.append(Text(f"seri {identity.serial}", f"serial {identity.serial}"))
    if identity.firmware:
        parts.append(Text(f"firmware {identity.firmware}", f"firmware {identity.firmware}"))
    return Text(", ".join(p.id for p in parts), ", ".join(p.en for p in parts))


def _cause(status: DeviceStatus) -> _Cause:
    detail = "" if status.reason is None else status.reason.en.lower()
    # First match wins: a "disconnected" whose detail says "permission denied" is a
    # permission problem, not a cable.
    rules = (
        (status.code == "pcsc_unavailable", _Cause.CARD_SERVICE_DOWN),
        (any(marker in detail for marker in _PERMISSION_MARKERS), _Cause.PERMISSION),
        (
            status.code == "device_busy" or any(marker in detail for marker in _HELD_MARKERS),
            _Cause.HELD_ELSEWHERE,
        ),
        ("no usb library" in detail, _Cause.NO_USB_LIBRARY),
        (status.code in ("not_found", "disconnected"), _Cause.NOT_FOUND),
        (status.code == "not_responding", _Cause.NO_ANSWER),
        (status.code == "garbage", _Cause.GARBAGE),
    )
    return next((cause for matched, cause in rules if matched), _Cause.FAULT)


def _advice(cause: _Cause, name: str, label: Text, device_config: DeviceConfig | None) -> Text:
    if cause is _Cause.NOT_FOUND:
        return _not_found_advice(name, label, device_config)
    if cause is _Cause.GARBAGE:
        return _garbage_advice(name, label, device_config)
    the = Text("{label}", "the {label}").format(label=label)
    checklist, device = _driver(name, label, device_config)
    return _CAUSE_ADVICE[cause].format(
        label=label,
        Label=_capitalised(label),
        the=the,
        The=_capitalised(the),
        rules=UDEV_RULES_FILE,
        where=checklist.device_path(device) or "/dev/ktpel/*",
    )


_CAUSE_ADVICE: Final = {
    _Cause.PERMISSION: Text(
        "Stasiun tidak diizinkan membuka {label}. Pasang aturan udev: `sudo install -m 0644 "
        "{rules} /etc/udev/rules.d/ && sudo udevadm control --reload && sudo udevadm trigger`; "
        "pastikan pengguna ktpel ada di grup dialout, plugdev dan video (`id ktpel`); jalankan "
        "doctor sebagai pengguna layanan (`sudo -u ktpel appliance doctor`).",
        "The station may not open {the}. Install the udev rules: `sudo install -m 0644 "
        "{rules} /etc/udev/rules.d/ && sudo udevadm control --reload && sudo udevadm trigger`; "
        "make sure the ktpel user is in the groups dialout, plugdev and video (`id ktpel`); "
        "run the doctor as the service's user (`sudo -u ktpel appliance doctor`).",
    ),
    _Cause.HELD_ELSEWHERE: Text(
        "Program lain memegang {label}: daemon stasiun dengan konfigurasi lain, atau "
        "ModemManager yang mengambil port serial. Lihat `sudo fuser -v {where}`, hentikan "
        "program itu (ModemManager: `sudo systemctl disable --now ModemManager`), lalu periksa "
        "lagi.",
        "Another program holds {the}: a station daemon with another configuration, or "
        "ModemManager taking serial ports. See `sudo fuser -v {where}`, stop that program "
        "(ModemManager: `sudo systemctl disable --now ModemManager`), then check again.",
    ),
    _Cause.NO_ANSWER: Text(
        "{Label} tersambung tetapi tidak menjawab. Periksa dayanya (adaptor, sakelar, lampu), "
        "lalu cabut dan pasang kembali kabel USB-nya.",
        "{The} is connected but does not answer. Check its power (adapter, switch, light), "
        "then unplug its USB cable and plug it back in.",
    ),
    _Cause.CARD_SERVICE_DOWN: Text(
        "Layanan pembaca kartu (pcscd) tidak berjalan: `sudo systemctl start pcscd.socket`, "
        "lalu periksa `systemctl status pcscd`.",
        "The card reader service (pcscd) is not running: `sudo systemctl start pcscd.socket`, "
        "then check `systemctl status pcscd`.",
    ),
    _Cause.NO_USB_LIBRARY: Text(
        "Pustaka USB (libusb) tidak terpasang: `sudo apt-get install libusb-1.0-0`.",
        "The USB library (libusb) is not installed: `sudo apt-get install libusb-1.0-0`.",
    ),
    _Cause.FAULT: Text(
        "{Label} melaporkan kerusakan: lihat layar atau lampu alat itu, matikan lalu nyalakan "
        "kembali; jika tetap rusak, hubungi pemasoknya.",
        "{The} reports a fault: look at its display or lights, switch it off and on again; if "
        "the fault stays, call its supplier.",
    ),
}


def _driver(
    name: str, label: Text, device_config: DeviceConfig | None
) -> tuple[Checklist[Any], ConfiguredDevice[Any]]:
    """The checklist of the device's driver, and the device as the checklist speaks of it;
    for a device not configured, the shared advice alone."""
    checklist = _SHARED_ONLY if device_config is None else device_type_of(device_config).checklist
    return checklist, ConfiguredDevice(name=name, label=label, config=device_config)


_SHARED_ONLY: Final[Checklist[Any]] = Checklist()


def _not_found_advice(name: str, label: Text, device_config: DeviceConfig | None) -> Text:
    the = Text("{label}", "the {label}").format(label=label)
    check_cable = Text(
        "Periksa kabel USB {label} dan lampu dayanya.",
        "Check {the}'s USB cable and its power light.",
    ).format(label=label, the=the)
    checklist, device = _driver(name, label, device_config)
    where = checklist.not_found(device)
    if where is None:
        return check_cable
    return Text("{cable}{where}", "{cable}{where}").format(cable=check_cable, where=where)


def _garbage_advice(name: str, label: Text, device_config: DeviceConfig | None) -> Text:
    checklist, device = _driver(name, label, device_config)
    advice = checklist.garbage(device)
    if advice is not None:
        return advice
    the = Text("{label}", "the {label}").format(label=label)
    return Text(
        "{Label} mengirim data rusak: cabut dan pasang kembali, lalu periksa lagi.",
        "{The} sends corrupted data: unplug it, plug it back in, then check again.",
    ).format(Label=_capitalised(label), The=_capitalised(the))
