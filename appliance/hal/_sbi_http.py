"""SBI's HTTP: bounded exchanges with a device service, its failures as the HAL's errors.

SBI is HTTP/1.1 on 127.0.0.1 with its own methods (MOSIPDISC, MOSIPDINFO, RCAPTURE,
CAPTURE). One connection per request, as the services expect ("Connection: close");
every exchange is bounded in time and its body read up to a cap. MockMDS (SBIWorker,
SBIResponseInfo) frames its answers loosely: `Content-Length` counts the body's characters,
two CRLFs follow the body, and an unknown method is answered "HTTP/1.1 405 OK" with an
SBI error body; the reading here takes all of that.

Where to send a request: discovery probes `http://<host>:<port>/device`; after it, the
device's `callbackId` is the base URL ("The call-back URL takes precedence over future
requests as a base URL", specification, "Device Discovery Response"), provided it is plain
HTTP to a loopback address.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any, Final
from urllib.parse import urlsplit

import httpx

from ._errors import DeviceFault, DeviceGone, DeviceTimeout
from ._sbi_config import loopback

STATUS_BODY_LIMIT: Final = 256 * 1024

# SBI services answer plain HTTP on loopback (every URL here is http://127.0.0.1), so no
# TLS is ever negotiated. httpx's default context would load certifi's CA bundle for
# each client made at each (re)connect: over 1 MiB kept per device and 16 ms of CPU.
# This context verifies against no authority at all: should https ever reach it, the
# handshake fails.
_NO_TLS: Final = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def service_url(host: str, port: int) -> str:
    """The base URL of the service on `port`, ending with "/"."""
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def callback_url(callback_id: str, *, device: str) -> str | None:
    """The base URL a device's `callbackId` names (None if it names none), refused unless
    it is plain HTTP to a loopback address with a port."""
    if not callback_id:
        return None
    try:
        parts = urlsplit(callback_id)
        port = parts.port
        loopback(parts.hostname or "")
    except ValueError:
        parts, port = None, None
    if parts is None or parts.scheme.lower() != "http" or port is None:
        raise DeviceFault(
            device, "garbage", f"callbackId {callback_id[:80]!r} is not http://127.0.0.1:<port>/"
        )
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    return f"http://{parts.netloc}{path}"


class SbiClient:
    """One device's HTTP exchanges; `call` is the only way in."""

    def __init__(self, *, device: str, app_name: str) -> None:
        self._device = device
        # Never through a proxy from the environment, and one connection per request as
        # SBI services expect; loopback makes it cheap. EXT names the calling app, as the
        # specification's HTTP requests show.
        self._client = httpx.AsyncClient(
            trust_env=False,
            verify=_NO_TLS,
            limits=httpx.Limits(max_keepalive_connections=0),
            headers={"EXT": app_name},
        )

    async def close(self) -> None:
        await self._client.aclose()

    async def call(
        self,
        method: str,
        base_url: str,
        path: str,
        payload: dict[str, Any] | None,
        *,
        timeout_s: float,
        limit: int,
    ) -> bytes:
        """One bounded exchange; its failures become the HAL's errors."""
        url = base_url + path
        try:
            async with asyncio.timeout(timeout_s):
                return await self._exchange(method, url, payload, limit=limit)
        except TimeoutError:
            raise DeviceTimeout(
                self._device, f"no answer to {method} /{path} within {timeout_s:g} s"
            ) from None
        except httpx.TimeoutException:
            raise DeviceTimeout(self._device, f"no answer to {method} /{path}") from None
        except httpx.ConnectError:
            raise DeviceGone(self._device, f"nothing answers at {base_url}") from None
        except httpx.RemoteProtocolError as exc:
            if "disconnected" in str(exc).lower():
                raise DeviceGone(self._device, f"{method} /{path}: connection dropped") from None
            raise DeviceFault(self._device, "garbage", f"{method} /{path}: not HTTP") from None
        except (httpx.ReadError, httpx.WriteError, httpx.CloseError):
            raise DeviceGone(self._device, f"{method} /{path}: connection dropped") from None
        except httpx.HTTPError as exc:
            raise DeviceFault(
                self._device, "garbage", f"{method} /{path}: {type(exc).__name__}"
            ) from None

    async def _exchange(
        self, method: str, url: str, payload: dict[str, Any] | None, *, limit: int
    ) -> bytes:
        async with self._client.stream(method, url, json=payload) as response:
            if response.status_code == httpx.codes.METHOD_NOT_ALLOWED:
                # MockMDS: "405 OK" with `[{"error": {"errorCode": "500", ...}}]`: the
                # service does not know this method or path.
                raise DeviceFault(
                    self._device, "device_error", f"{method} refused: the service knows no such"
                )
            if response.status_code != httpx.codes.OK:
                raise DeviceFault(
                    self._device, "device_error", f"{method} answered HTTP {response.status_code}"
                )
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise DeviceFault(self._device, "garbage", f"answer larger than {limit} bytes")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > limit:
                    raise DeviceFault(self._device, "garbage", f"answer larger than {limit} bytes")
            return bytes(body)
