"""`[uplink]` in the station's config, `[central]` in the collector's, and the broker
connection they share.

Paths are as written in the file; the owner of the file resolves them (relative paths
are relative to its state directory) before a connection is made.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BrokerSection(_Section):
    """Where the broker is and how to prove who we are to it."""

    host: str | None = None
    """The broker's host name; without it the uplink is off."""
    port: Annotated[int, Field(ge=1, le=65535)] | None = None
    """1883, or 8883 with TLS, unless given."""
    username: str | None = None
    password_file: Path | None = None
    """A 0600 file holding the password (never the password in the config)."""
    ca_certificate: Path | None = None
    """Turns TLS on: the CA the broker's certificate must chain to."""
    certificate: Path | None = None
    """With `key`: the client certificate for mutual TLS."""
    key: Path | None = None
    keepalive_s: Annotated[int, Field(ge=5, le=3600)] = 30

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.certificate is None) != (self.key is None):
            raise ValueError("certificate and key go together (mutual TLS)")
        if self.certificate is not None and self.ca_certificate is None:
            raise ValueError("a client certificate needs ca_certificate (TLS)")
        if self.password_file is not None and self.username is None:
            raise ValueError("password_file needs username")
        return self

    @property
    def tls(self) -> bool:
        return self.ca_certificate is not None

    @property
    def effective_port(self) -> int:
        return self.port if self.port is not None else (8883 if self.tls else 1883)


class UplinkSection(BrokerSection):
    """The register and the station's health, shipped to the central office."""

    central_public_key: Path = Path("keys/central.pub")
    """The central office's key: `ack` and commands must be signed by it."""
    state_file: Path = Path("uplink.json")
    """What the centre acknowledged, and the birth/death sequence number."""
    batch_max_events: Annotated[int, Field(ge=1, le=10_000)] = 500
    batch_max_bytes: Annotated[int, Field(ge=4096, le=16 * 1024 * 1024)] = 512 * 1024
    max_in_flight: Annotated[int, Field(ge=1, le=1000)] = 8
    """Messages published and not yet acknowledged by the broker."""
    window_events: Annotated[int, Field(ge=1)] = 10_000
    """Events sent ahead of the centre's acknowledgement before the uplink waits for it."""
    ack_timeout_s: Annotated[float, Field(gt=0, le=3600)] = 30.0
    """Without any acknowledgement this long, what is unacknowledged is sent again."""
    publish_timeout_s: Annotated[float, Field(gt=0, le=600)] = 15.0
    """A publish the broker does not confirm this soon means a dead link: reconnect."""
    telemetry_interval_s: Annotated[float, Field(gt=0, le=24 * 3600)] = 60.0
    reconnect_min_s: Annotated[float, Field(gt=0, le=600)] = 1.0
    reconnect_max_s: Annotated[float, Field(gt=0, le=3600)] = 120.0

    @property
    def enabled(self) -> bool:
        return self.host is not None


class CollectorSection(_Section):
    """`[central]` in the collector's config."""

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
    """This collector's name: its MQTT client id, and its persistent session."""
    state_dir: Path = Path("/var/lib/ktpel-central")
    store: str = "sqlite:collector.sqlite3"
    """`sqlite:<path>` (relative to state_dir) or a `postgresql://` URL."""
    signing_key: Path = Path("keys/central.key")
    """Signs `ack` and commands; stations hold its public half (`central.pub`)."""
    stations_dir: Path = Path("stations")
    """One `<station id>.pem` public key per station."""
    share_group: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")] = "collectors"
    """Collectors in one group share the stations' messages (MQTT v5 shared subscription)."""
    session_expiry_s: Annotated[int, Field(ge=0, le=30 * 86400)] = 7 * 86400
    """How long the broker keeps queueing for this collector while it is away."""
    resend_interval_s: Annotated[float, Field(gt=0, le=3600)] = 5.0
    """At most one `resend` per station this often while a gap stays open."""
    max_batch_events: Annotated[int, Field(ge=1, le=1_000_000)] = 20_000
    """Events verified and stored together, in one transaction."""
    every_signature: bool = True
    """Verify each event's signature; false verifies the last of each linked run in a
    message, which proves the content of the whole run (see `check_message`) at a fifth
    of the cost, for a collector catching up with a fleet's backlog on little CPU."""
    reconnect_min_s: Annotated[float, Field(gt=0, le=600)] = 0.5
    reconnect_max_s: Annotated[float, Field(gt=0, le=3600)] = 30.0
