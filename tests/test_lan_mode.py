"""The LAN mode: the office's PCs, TV and kiosk reach the screens over TLS with the
station's own certificate, and only the listed addresses get in."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from cryptography import x509
from fastapi import FastAPI
from starlette.types import Message

from appliance.api._clients import AllowedClients
from appliance.config import ApiSection, ConfigError, load_config
from sim.pcscd import PrivatePcscd

from .office_rig import PIN, Office, office

LAN = (
    'allow_remote = true\nallowed_clients = ["192.168.1.20", "10.0.0.0/29"]\n'
    'tls_names = ["ktpel.local", "192.168.1.5"]\n'
)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def pcscd() -> AsyncIterator[PrivatePcscd]:
    async with PrivatePcscd() as daemon:
        yield daemon


@pytest.mark.parametrize(
    ("api", "key", "problem"),
    [
        ('host = "0.0.0.0"\nallow_remote = true\ntls_names = ["a"]', "api", "allowed_clients"),
        (
            'host = "0.0.0.0"\nallow_remote = true\nallowed_clients = ["10.0.0.1"]',
            "api",
            "tls_names",
        ),
        (
            'allow_remote = true\nallowed_clients = ["10.0.0.300"]\ntls_names = ["a"]',
            "api.allowed_clients.0",
            "network",
        ),
    ],
)
def test_a_lan_mode_without_its_clients_or_names_is_a_config_error(
    tmp_path: Path, api: str, key: str, problem: str
) -> None:
    file = tmp_path / "station.toml"
    file.write_text(f'[station]\nid = "s1"\n[api]\n{api}\n', encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config(file)
    rendered = raised.value.render("en")
    assert f"{file}: {key}:" in rendered
    assert problem in rendered


@pytest.mark.parametrize(
    ("client", "allowed"),
    [
        ("192.168.1.20", True),
        ("192.168.1.21", False),
        ("10.0.0.7", True),
        ("10.0.0.8", False),
        ("127.0.0.1", True),
        ("::1", True),
        ("::ffff:192.168.1.20", True),
        ("fe80::1", False),
    ],
)
@pytest.mark.asyncio(loop_scope="module")
async def test_only_the_listed_clients_get_in(client: str, allowed: bool) -> None:
    inner = FastAPI()

    @inner.get("/board")
    async def board() -> dict[str, str]:
        return {"ok": "yes"}

    section = ApiSection.model_validate(
        {
            "allow_remote": True,
            "allowed_clients": ["192.168.1.20", "10.0.0.0/29"],
            "tls_names": ["a"],
        }
    )
    app = AllowedClients(inner, networks=section.allowed_clients)
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "path": "/board",
        "raw_path": b"/board",
        "query_string": b"",
        "headers": [],
        "client": (client, 50000),
        "server": ("192.168.1.5", 8470),
        "scheme": "https",
        "root_path": "",
    }
    await app(scope, receive, send)
    assert sent[0]["status"] == (200 if allowed else 403)


@pytest_asyncio.fixture(loop_scope="module")
async def lan_station(tmp_path: Path, pcscd: PrivatePcscd) -> AsyncIterator[Office]:
    async with office(tmp_path, pcscd, api_config=LAN) as rig:
        yield rig


@pytest.mark.asyncio(loop_scope="module")
async def test_the_station_serves_tls_with_its_own_certificate_and_secure_cookies(
    lan_station: Office,
) -> None:
    config = lan_station.config
    certificate_path = config.state_path(config.api.tls_certificate)
    key_path = config.state_path(config.api.tls_key)
    assert key_path.stat().st_mode & 0o777 == 0o600
    certificate = x509.load_pem_x509_certificate(certificate_path.read_bytes())
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "ktpel.local" in names.get_values_for_type(x509.DNSName)
    assert {str(ip) for ip in names.get_values_for_type(x509.IPAddress)} >= {
        "192.168.1.5",
        "127.0.0.1",
    }
    port = lan_station.station.api.port
    trusted = ssl.create_default_context(cafile=certificate_path)
    async with httpx.AsyncClient(base_url=f"https://127.0.0.1:{port}", verify=trusted) as https:
        page = await https.get("/masuk")
        assert page.status_code == 200
        csrf = page.cookies["ktpel_csrf"]
        assert "secure" in page.headers["set-cookie"].lower()
        signed = await https.post(
            "/masuk",
            data={"person": "siti", "pin": PIN, "csrf": csrf},
            headers={"Cookie": f"ktpel_csrf={csrf}"},
        )
        assert signed.status_code == 303
        session_cookie = signed.headers["set-cookie"].lower()
        assert "secure" in session_cookie
        assert "httponly" in session_cookie
        assert "samesite=strict" in session_cookie
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as plain:
        with pytest.raises(httpx.HTTPError):
            await plain.get("/masuk")
    # The command on the station reaches its daemon through the same certificate.
    async with httpx.AsyncClient(verify=config.api_verify()) as local:
        health = await local.get(f"https://127.0.0.1:{port}/api/v1/health")
        assert health.status_code == 200
