"""Whether the MQTT broker accepts the station, as the uplink would connect to it.

The doctor connects once with the uplink's own settings and secrets (under its own client
id, so the daemon's session stays undisturbed) and hangs up. A refusal is told apart from
its causes (a secret file, TLS files, credentials, no listener, DNS, certificate, TLS, no
route, no MQTT answer), because each needs different hands to fix it.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import aiomqtt

from appliance._secrets import SecretFileError
from appliance._text import Text
from appliance.config import Config
from appliance.sync import UplinkSection
from appliance.sync._mqtt import make_client

from ._limits import DoctorLimits
from ._report import Finding, Level

# MQTT v5 CONNACK reason codes (and their v3.1.1 counterparts) that mean the broker
# does not accept these credentials.
_BAD_CREDENTIALS: Final = frozenset({0x86, 0x87, 0x8C, 4, 5})
_NO_CONNACK: Final = "Operation timed out"
"""aiomqtt's words when the broker took the connection but sent no CONNACK in time."""


async def _probe_broker(config: Config, limits: DoctorLimits) -> list[Finding]:
    uplink = config.uplink
    if not uplink.enabled:
        return [_UPLINK_OFF]
    where = f"{uplink.host}:{uplink.effective_port}"
    details = {"host": uplink.host, "port": uplink.effective_port, "tls": uplink.tls}
    plain = [] if uplink.tls or _on_this_machine(uplink) else [_plain_link(where, details)]
    return plain + await _probe_connection(config, limits, where=where, details=details)


def _on_this_machine(uplink: UplinkSection) -> bool:
    """A broker on the loopback (a local bridge, a test) carries nothing over a wire."""
    host = uplink.host or ""
    if host.lower() in {"localhost", "localhost."}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _plain_link(where: str, details: Mapping[str, Any]) -> Finding:
    # The register's events carry applicants' NIK, name and address: over a plain link
    # anyone on the way (the office network, the provider) reads them.
    return Finding(
        check="uplink_tls",
        level=Level.WARNING,
        text=Text(
            "Uplink ke {where} tanpa TLS: register (NIK, nama, alamat pemohon) terkirim "
            "tanpa enkripsi",
            "The uplink to {where} has no TLS: the register (applicants' NIK, name, address) "
            "travels unencrypted",
        ).format(where=where),
        advice=Text(
            'Isi [uplink] ca_certificate = "keys/broker-ca.pem" (CA dari kantor pusat) dan '
            "port = 8883; untuk TLS bersama juga certificate dan key (docs/deploy.md, langkah 3).",
            'Set [uplink] ca_certificate = "keys/broker-ca.pem" (the central office\'s CA) and '
            "port = 8883; for mutual TLS also certificate and key (docs/deploy.md, step 3).",
        ),
        details=details,
    )


async def _probe_connection(
    config: Config, limits: DoctorLimits, *, where: str, details: Mapping[str, Any]
) -> list[Finding]:
    uplink = config.uplink
    try:
        # Its own client id: the daemon's session, if it is connected, stays undisturbed.
        client = make_client(
            uplink, resolve=config.state_path, identifier=f"ktpel-doctor-{config.station.id}"
        )
    except SecretFileError as exc:
        return [_broker_finding(_BROKER_SECRET, exc, where=where, details=details)]
    except (OSError, ssl.SSLError) as exc:
        return [_broker_finding(_BROKER_TLS_FILES, exc, where=where, details=details)]
    failure = await _connect_once(client, limits)
    if failure is not None:
        return [_broker_finding(*failure, where=where, details=details)]
    tls = Text(" (TLS)", " (TLS)") if uplink.tls else Text("", "")
    return [
        Finding(
            check="broker",
            level=Level.OK,
            text=Text(
                "Broker {where} menerima sambungan stasiun{tls}",
                "The broker {where} accepts the station's connection{tls}",
            ).format(where=where, tls=tls),
            details=details,
        )
    ]


async def _connect_once(
    client: aiomqtt.Client, limits: DoctorLimits
) -> tuple[_BrokerFailure, BaseException] | None:
    """Connect and disconnect; what went wrong, with the error that says it, if anything."""
    # aiomqtt waits this long for the CONNACK; the outer bound covers the TCP connect too.
    client.timeout = limits.broker_s
    try:
        async with asyncio.timeout(limits.broker_s + 1.0), client:
            pass
    except aiomqtt.MqttCodeError as exc:
        _hang_up(client)
        bad_credentials = _reason_code(exc) in _BAD_CREDENTIALS
        return (_BROKER_CREDENTIALS if bad_credentials else _BROKER_REFUSED), exc
    except aiomqtt.MqttError as exc:
        _hang_up(client)
        # aiomqtt keeps the socket's error only as the context of its own.
        return _socket_failure(exc), exc.__context__ or exc
    except TimeoutError as exc:
        return _BROKER_UNREACHABLE, exc
    return None


def _reason_code(exc: aiomqtt.MqttCodeError) -> int | None:
    code = exc.rc
    if isinstance(code, int):
        return code
    value = getattr(code, "value", None)
    return value if isinstance(value, int) else None


def _hang_up(client: aiomqtt.Client) -> None:
    """Close the socket of a connection the broker did not accept: aiomqtt leaves it
    open, and watched by the event loop. paho sends DISCONNECT and closes it."""
    paho = client._client  # noqa: SLF001 - the one way to the socket aiomqtt strands
    if paho.socket() is not None:
        paho.disconnect()
        paho.loop_write()


def _socket_failure(error: aiomqtt.MqttError) -> _BrokerFailure:
    if str(error) == _NO_CONNACK:
        # Connected, but no MQTT answer came: not an MQTT port, or TLS on one side only.
        return _BROKER_SILENT
    cause = error.__context__
    if isinstance(cause, OSError) and cause.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return _BROKER_NO_ROUTE
    return next(
        (failure for kind, failure in _SOCKET_FAILURES if isinstance(cause, kind)),
        _BROKER_UNREACHABLE,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class _BrokerFailure:
    cause: str
    text: Text
    advice: Text


def _broker_finding(
    failure: _BrokerFailure, error: BaseException, *, where: str, details: Mapping[str, Any]
) -> Finding:
    return Finding(
        check="broker",
        level=Level.PROBLEM,
        text=Text("{text} ({error})", "{text} ({error})").format(
            text=failure.text.format(where=where), error=str(error) or type(error).__name__
        ),
        advice=failure.advice.format(where=where, host=where.rpartition(":")[0]),
        details={**details, "cause": failure.cause},
    )


_BROKER_SECRET: Final = _BrokerFailure(
    cause="secret_file",
    text=Text(
        "Berkas rahasia untuk broker {where} tidak dapat dipakai",
        "A secret file for the broker {where} cannot be used",
    ),
    advice=Text(
        "Simpan kata sandi (password_file) atau kunci klien dari kantor pusat dengan mode 0600, "
        "milik pengguna ktpel; lihat pesan di atas untuk nama berkasnya.",
        "Keep the password (password_file) or client key from the central office with mode "
        "0600, owned by the ktpel user; the message above names the file.",
    ),
)
_BROKER_TLS_FILES: Final = _BrokerFailure(
    cause="tls_files",
    text=Text(
        "Berkas TLS untuk broker {where} tidak dapat dibaca",
        "The TLS files for the broker {where} cannot be read",
    ),
    advice=Text(
        "Periksa ca_certificate, certificate dan key di [uplink]: berkasnya harus ada dan "
        "berformat PEM (dari kantor pusat).",
        "Check ca_certificate, certificate and key in [uplink]: the files must exist and be "
        "PEM (from the central office).",
    ),
)
_BROKER_CREDENTIALS: Final = _BrokerFailure(
    cause="bad_credentials",
    text=Text(
        "Broker {where} menolak nama pengguna atau kata sandi stasiun",
        "The broker {where} refuses the station's user name or password",
    ),
    advice=Text(
        "Periksa username di [uplink] dan isi password_file (tanpa spasi tambahan) dengan "
        "kantor pusat; untuk TLS bersama, sertifikat klien harus atas nama stasiun ini.",
        "Check username in [uplink] and the content of password_file (no extra spaces) with "
        "the central office; with mutual TLS, the client certificate must name this station.",
    ),
)
_BROKER_REFUSED: Final = _BrokerFailure(
    cause="refused",
    text=Text("Broker {where} menolak sambungan", "The broker {where} refuses the connection"),
    advice=Text(
        "Broker sibuk atau tidak tersedia; coba lagi nanti, dan beri tahu kantor pusat jika "
        "berlanjut.",
        "The broker is busy or unavailable; try again later, and tell the central office if "
        "it goes on.",
    ),
)
_BROKER_NOT_LISTENING: Final = _BrokerFailure(
    cause="not_listening",
    text=Text(
        "Tidak ada broker yang mendengarkan di {where} (sambungan ditolak)",
        "No broker is listening at {where} (connection refused)",
    ),
    advice=Text(
        "Pastikan host dan port di [uplink] benar, dan tanyakan ke kantor pusat apakah "
        "brokernya berjalan.",
        "Make sure host and port in [uplink] are right, and ask the central office whether "
        "their broker is running.",
    ),
)
_BROKER_DNS: Final = _BrokerFailure(
    cause="dns",
    text=Text(
        "Nama broker {where} tidak dapat diterjemahkan (DNS)",
        "The broker's name {where} cannot be resolved (DNS)",
    ),
    advice=Text(
        "Periksa ejaan host di [uplink], jaringan kantor (kabel, modem) dan DNS: "
        "`getent hosts {host}`.",
        "Check the spelling of host in [uplink], the office network (cable, modem) and DNS: "
        "`getent hosts {host}`.",
    ),
)
_BROKER_CERTIFICATE: Final = _BrokerFailure(
    cause="tls_certificate",
    text=Text(
        "Sertifikat broker {where} tidak dipercaya",
        "The certificate of the broker {where} is not trusted",
    ),
    advice=Text(
        "Periksa ca_certificate di [uplink] (CA dari kantor pusat) dan jam stasiun "
        "(`timedatectl`): jam yang salah membuat sertifikat yang sah tampak kedaluwarsa.",
        "Check ca_certificate in [uplink] (the central office's CA) and the station's clock "
        "(`timedatectl`): a wrong clock makes a valid certificate look expired.",
    ),
)
_BROKER_TLS: Final = _BrokerFailure(
    cause="tls",
    text=Text("Jabat tangan TLS dengan {where} gagal", "The TLS handshake with {where} failed"),
    advice=Text(
        "Port TLS (biasanya 8883) dan tanpa TLS (1883) harus cocok dengan broker; untuk TLS "
        "bersama, certificate dan key di [uplink] harus dari CA kantor pusat.",
        "The TLS port (usually 8883) or plain port (1883) must match the broker's; with mutual "
        "TLS, certificate and key in [uplink] must come from the central office's CA.",
    ),
)
_BROKER_UNREACHABLE: Final = _BrokerFailure(
    cause="unreachable",
    text=Text("Tidak ada jawaban dari broker {where}", "No answer from the broker {where}"),
    advice=Text(
        "Periksa jaringan kantor (kabel, modem, lampu internet) dan firewall. Layanan stasiun "
        "juga perlu alamat broker di IPAddressAllow "
        "(/etc/systemd/system/ktpel-station.service.d/broker.conf).",
        "Check the office network (cable, modem, internet light) and the firewall. The station "
        "service also needs the broker's address in IPAddressAllow "
        "(/etc/systemd/system/ktpel-station.service.d/broker.conf).",
    ),
)
_BROKER_NO_ROUTE: Final = _BrokerFailure(
    cause="no_route",
    text=Text("Tidak ada jalur jaringan ke {where}", "There is no network route to {where}"),
    advice=Text(
        "Periksa kabel jaringan dan modem; `ip route` harus menunjukkan gateway.",
        "Check the network cable and the modem; `ip route` must show a gateway.",
    ),
)
_BROKER_SILENT: Final = _BrokerFailure(
    cause="no_mqtt_answer",
    text=Text(
        "{where} menerima sambungan tetapi tidak menjawab sebagai broker MQTT",
        "{where} accepts the connection but does not answer as an MQTT broker",
    ),
    advice=Text(
        "Port itu mungkin untuk TLS (isi ca_certificate di [uplink]) atau bukan port MQTT; "
        "tanyakan port yang benar ke kantor pusat.",
        "That port may be a TLS one (set ca_certificate in [uplink]) or not MQTT at all; ask "
        "the central office for the right port.",
    ),
)


_SOCKET_FAILURES: Final = (
    (ConnectionRefusedError, _BROKER_NOT_LISTENING),
    (socket.gaierror, _BROKER_DNS),
    (ssl.SSLCertVerificationError, _BROKER_CERTIFICATE),  # before its base, SSLError
    (ssl.SSLError, _BROKER_TLS),
    (TimeoutError, _BROKER_UNREACHABLE),
)
_UPLINK_OFF: Final = Finding(
    check="broker",
    level=Level.WARNING,
    text=Text(
        "Uplink tidak diatur ([uplink] host kosong): register tidak dikirim ke kantor pusat",
        "The uplink is not configured ([uplink] host is empty): the register is not shipped "
        "to the central office",
    ),
    advice=Text(
        "Isi [uplink] host, username dan password_file dari kantor pusat (docs/deploy.md, "
        "langkah 3).",
        "Fill in [uplink] host, username and password_file from the central office "
        "(docs/deploy.md, step 3).",
    ),
)
