"""The simulator's run-time control interface: JSON lines over a UNIX socket.

    {"cmd": "list"}
    {"cmd": "inject", "device": "signature_pad", "fault": "slow", "params": {"delay_s": 3}}
    {"cmd": "clear", "device": "signature_pad"}            (or "fault": "slow" for one)
    {"cmd": "press", "device": "satisfaction_keypad", "key": 2}
    {"cmd": "present", "device": "single_finger_scanner", "person": 1001}
    {"cmd": "take_card"}       (the newest ejected card to the activation desk reader)

Every request gets one line back: {"ok": true, ...} or {"ok": false, "error": "..."}.
A socket, not a TCP port: it is reachable by the technician on the box and nobody else.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from ._base import Fault, FaultState

_MAX_REQUEST = 64 * 1024


class Controllable(Protocol):
    name: str
    faults: FaultState

    @property
    def supported_faults(self) -> frozenset[Fault]: ...

    def inject(self, fault: Fault, params: dict[str, Any] | None = None) -> None: ...

    def clear(self, fault: Fault | None = None) -> None: ...


class ControlError(ValueError):
    pass


Action = Callable[[Mapping[str, Any]], Awaitable[str]]


async def handle_request(
    devices: Mapping[str, Controllable], request: Any, actions: Mapping[str, Action] | None = None
) -> dict[str, Any]:
    """Apply one control request; raises ControlError with a message for the technician.

    `actions` are the office's own (moving a card between devices), by command name."""
    if not isinstance(request, dict):
        raise ControlError("a request is a JSON object")
    command = request.get("cmd")
    action = (actions or {}).get(str(command))
    if action is not None:
        try:
            return {"result": await action(request)}
        except LookupError as exc:
            raise ControlError(str(exc)) from None
    if command == "list":
        return {
            "devices": {
                name: {
                    "faults": sorted(device.supported_faults),
                    "active": {
                        fault.value: dict(params) for fault, params in device.faults.active.items()
                    },
                }
                for name, device in devices.items()
            }
        }
    device = devices.get(str(request.get("device")))
    if device is None:
        raise ControlError(f"unknown device {request.get('device')!r}; known: {', '.join(devices)}")
    return _device_command(device, command, request)


def _device_command(
    device: Controllable, command: object, request: dict[str, Any]
) -> dict[str, Any]:
    if command == "inject":
        fault = _fault(request.get("fault"))
        if fault not in device.supported_faults:
            raise ControlError(f"{device.name} cannot have fault {fault.value}")
        params = request.get("params") or {}
        if not isinstance(params, dict):
            raise ControlError("params must be an object")
        device.inject(fault, params)
        return {}
    if command == "clear":
        raw = request.get("fault")
        device.clear(None if raw is None else _fault(raw))
        return {}
    if command == "press":
        press = getattr(device, "press", None)
        if press is None:
            raise ControlError(f"{device.name} has no buttons to press")
        press(request.get("key"))
        return {}
    if command == "present":
        present = getattr(device, "present", None)
        if present is None:
            raise ControlError(f"{device.name} takes no person's fingers")
        person = request.get("person")
        if person is not None and not isinstance(person, int):
            raise ControlError("person must be a whole number (a synthetic person's seed)")
        present(person)
        return {}
    raise ControlError(
        f"unknown command {command!r}; use list, inject, clear, press, present or take_card"
    )


def _fault(raw: object) -> Fault:
    try:
        return Fault(str(raw))
    except ValueError:
        raise ControlError(
            f"unknown fault {raw!r}; known: {', '.join(f.value for f in Fault)}"
        ) from None


async def serve_control(
    path: Path, devices: Mapping[str, Controllable], *, actions: Mapping[str, Action] | None = None
) -> asyncio.Server:
    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                try:
                    request = json.loads(line)
                    reply = {"ok": True, **await handle_request(devices, request, actions)}
                except (ControlError, json.JSONDecodeError, UnicodeDecodeError) as exc:
                    reply = {"ok": False, "error": str(exc)}
                writer.write(json.dumps(reply).encode() + b"\n")
                await writer.drain()
        except (ValueError, ConnectionError):
            pass  # an over-long line or a client that left: drop the session
        finally:
            writer.close()

    # asyncio replaces a stale socket left by an earlier run at the same path.
    server = await asyncio.start_unix_server(session, path=path, limit=_MAX_REQUEST)
    path.chmod(0o600)  # noqa: ASYNC240 - metadata of a file we just made
    return server


async def send_control(path: Path, request: Mapping[str, Any]) -> dict[str, Any]:
    """One request to a running simulator (the `appliance sim` client side)."""
    reader, writer = await asyncio.open_unix_connection(path)
    try:
        writer.write(json.dumps(request).encode() + b"\n")
        await writer.drain()
        reply: dict[str, Any] = json.loads(await reader.readline())
    finally:
        writer.close()
    return reply
