"""`appliance central`'s configuration: the collector's sections, the dashboard's, the
alerts' thresholds and the targets reports are measured against.

```toml
[central]
id = "pusat-1"                       # this collector; several may share the load
state_dir = "/var/lib/ktpel-central"
store = "sqlite:collector.sqlite3"   # or "postgresql://user@host/db"
[broker]
host = "broker.example"
[dashboard]
host = "127.0.0.1"                   # anything else needs certificate and key (TLS)
port = 8480
```
The config is validated as strictly as the station's: unknown keys are errors, and a bad
file exits 2 naming the file, the key and the problem.
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, IPvAnyNetwork, ValidationInfo, field_validator

from appliance.config import LoggingSection, read_document, validate_document
from appliance.reports import TargetsSection
from appliance.sync import BrokerSection, CollectorSection

from ._alerts import AlertsSection
from ._fleet import FleetSection

_EVERYWHERE = (ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0"))


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class DashboardSection(BaseModel):
    """The dashboard's web server, its sessions and where the central office keeps its
    own state (users, sessions, alerts, commands, station status)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    """Loopback by default (a reverse proxy or an SSH tunnel in front); any other address
    is served over TLS only, with `certificate` and `key`."""
    port: Annotated[int, Field(ge=0, le=65535)] = 8480
    certificate: Path | None = Field(default=None, validate_default=True)
    """PEM certificate chain for HTTPS (relative paths: to the state directory)."""
    key: Path | None = Field(default=None, validate_default=True)
    """Its private key, 0600."""
    allowed_clients: tuple[IPvAnyNetwork, ...] = _EVERYWHERE
    """Off loopback, the networks that may connect (403 for others, before any route)."""
    session_idle_minutes: Annotated[int, Field(gt=0, le=24 * 60)] = 30
    """A session unused this long is closed (the live refreshes do not count as use)."""
    max_failures: Annotated[int, Field(ge=1, le=100)] = 5
    """Consecutive wrong passwords for one user name before it is locked."""
    lockout_minutes: Annotated[float, Field(gt=0, le=24 * 60)] = 15
    page_size: Annotated[int, Field(ge=10, le=1000)] = 50
    """Stations per page of the overview."""
    store: str | None = None
    """The central office's own state: default the collector's PostgreSQL database, or
    `sqlite:dashboard.sqlite3` beside a SQLite collector store."""

    @field_validator("certificate", "key")
    @classmethod
    def _tls_off_loopback(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        host = info.data.get("host")
        if value is None and isinstance(host, str) and not is_loopback(host):
            raise ValueError(
                f"host {host!r} is not loopback: the dashboard is served over TLS there, "
                f"set certificate and key"
            )
        return value

    @property
    def tls(self) -> bool:
        return self.certificate is not None and self.key is not None

    @property
    def session_idle(self) -> timedelta:
        return timedelta(minutes=self.session_idle_minutes)

    @property
    def lockout(self) -> timedelta:
        return timedelta(minutes=self.lockout_minutes)


class CentralConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    central: CollectorSection
    broker: BrokerSection
    dashboard: DashboardSection = DashboardSection()
    alerts: AlertsSection = AlertsSection()
    fleet: FleetSection = FleetSection()
    logging: LoggingSection = LoggingSection()
    targets: TargetsSection = TargetsSection()
    """What the stations' reports are measured against (docs/oversight.md, "Reports")."""

    def state_path(self, path: Path) -> Path:
        return path if path.is_absolute() else self.central.state_dir / path

    @property
    def store_url(self) -> str:
        url = self.central.store
        if url.startswith("sqlite:"):
            return f"sqlite:{self.state_path(Path(url.removeprefix('sqlite:')))}"
        return url

    @property
    def database_url(self) -> str:
        """Where the central office keeps its own state (`Database.open`)."""
        url = self.dashboard.store
        if url is None:
            url = self.store_url if self.store_url.startswith("postgres") else None
        if url is None:
            return f"sqlite:{self.state_path(Path('dashboard.sqlite3'))}"
        if url.startswith("sqlite:") and not url.startswith("sqlite:/"):
            return f"sqlite:{self.state_path(Path(url.removeprefix('sqlite:')))}"
        return url


def load_central_config(file: Path) -> CentralConfig:
    config = validate_document(CentralConfig, read_document(file), file=file)
    state_dir = config.central.state_dir
    if not state_dir.is_absolute():
        state_dir = (file.parent / state_dir).resolve()
    central = config.central.model_copy(update={"state_dir": state_dir})
    return config.model_copy(update={"central": central})
