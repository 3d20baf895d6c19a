"""The station's configuration: one TOML file, validated strictly.

A minimal file names the station; everything else has a default fit for a Raspberry Pi
under systemd. Unknown keys are errors, not silently ignored: a misspelt key in a box
nobody watches is a setting that never took effect. Relative paths are read relative to
the state directory, and a relative state directory relative to the config file.
"""

from __future__ import annotations

import ipaddress
import ssl
import tomllib
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    IPvAnyNetwork,
    ValidationError,
    model_validator,
)

from appliance._problems import ConfigProblem
from appliance._problems import describe as _problem
from appliance._text import Text
from appliance.domain import RequirementProfile, Step, step_budgets
from appliance.errors import ApplianceError
from appliance.hal._config import DeviceConfig, HalSection
from appliance.issuance._settings import IssuanceSection
from appliance.oversight._settings import OversightSection
from appliance.pipeline._records import SiakSection
from appliance.pipeline._settings import PipelineSection
from appliance.reports._targets import TargetsSection
from appliance.screens._settings import ScreensSection
from appliance.speech._settings import SpeechSection
from appliance.sync._settings import UplinkSection

M = TypeVar("M", bound=BaseModel)

DEFAULT_CONFIG_PATH = Path("/etc/ktpel-station/station.toml")


def time_zone_name(name: str) -> str:
    """`name` if it is a known IANA time zone: the validator of every `timezone` key."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (e.g. Asia/Jakarta, Asia/Makassar)") from None
    return name


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class StationSection(_Section):
    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
    """Station identifier: the MQTT topic segment, lower-case letters, digits and '-'."""
    office: Annotated[str, Field(min_length=1, max_length=200)] = "Kantor Kecamatan"
    timezone: Annotated[str, AfterValidator(time_zone_name)] = "Asia/Jakarta"
    requirements: RequirementProfile = RequirementProfile.LUMAJANG
    language: Literal["id", "en"] = "id"


class PathsSection(_Section):
    state_dir: Path = Path("/var/lib/ktpel-station")
    reserve_mb: Annotated[int, Field(ge=0, le=1024 * 1024)] = 256
    """Free space kept back on the register's and the biometric store's filesystems:
    below it no new ticket or application is taken, so the open ones can finish."""


class KeysSection(_Section):
    station_key: Path = Path("keys/station.key")
    biometric_key: Path = Path("keys/biometric.key")
    document_signer_key: Path = Path("keys/document-signer.key")
    """Signs each card's security object (EF.SOD); its certificate sits beside it."""
    document_signer_certificate: Path = Path("keys/document-signer.crt")
    card_transport_key: Path = Path("keys/card-transport.key")
    """Opens blank cards for personalisation; shared with the blanks' maker."""
    card_reader_key: Path = Path("keys/card-reader.key")
    """Opens each card's fingerprints (DG3); held by every authorised reader."""
    card_can_key: Path = Path("keys/card-can.key")
    """Gives each card its card access number; never leaves the station."""


class RegisterSection(_Section):
    path: Path = Path("register.sqlite3")


class BiometricsSection(_Section):
    directory: Path = Path("biometrics")
    retention_days: Annotated[int, Field(ge=0, le=3650)] = 30
    """Days an activated applicant's biometrics are kept before the purge."""


class StaffSection(_Section):
    file: Path = Path("staff.toml")
    """Who may log in, in which roles, with their hashed PINs (see docs/staff.md)."""
    session_idle_minutes: Annotated[int, Field(gt=0, le=24 * 60)] = 480
    """A login session unused this long is closed: one working day by default."""
    max_failures: Annotated[int, Field(ge=1, le=100)] = 5
    """Consecutive wrong PINs for one login name before it is locked."""
    lockout_minutes: Annotated[float, Field(gt=0, le=24 * 60)] = 5

    @property
    def session_idle(self) -> timedelta:
        return timedelta(minutes=self.session_idle_minutes)

    @property
    def lockout(self) -> timedelta:
        return timedelta(minutes=self.lockout_minutes)


class ApiSection(_Section):
    host: str = "127.0.0.1"
    """Loopback by default: the officers' screens run on the station itself."""
    port: Annotated[int, Field(ge=0, le=65535)] = 8470
    allow_remote: bool = False
    """The LAN mode: must be set to listen on anything but loopback. The station then
    serves TLS with its own certificate, to the `allowed_clients` only (docs/screens.md)."""
    allowed_clients: tuple[IPvAnyNetwork, ...] = ()
    """In the LAN mode, the office's PCs, TV and kiosk that may connect: addresses
    ("192.168.1.20") or networks ("192.168.1.0/28"). Loopback is always allowed."""
    tls_names: tuple[Annotated[str, Field(min_length=1, max_length=253)], ...] = ()
    """In the LAN mode, the names and addresses the office's PCs reach the station by,
    written into its certificate (loopback's are added)."""
    tls_certificate: Path = Path("keys/https.crt")
    tls_key: Path = Path("keys/https.key")
    max_body_bytes: Annotated[int, Field(ge=1024, le=16 * 1024 * 1024)] = 64 * 1024

    @property
    def tls(self) -> bool:
        return self.allow_remote

    @property
    def local_url(self) -> str:
        """Where a command on the station itself reaches the daemon's API."""
        # Listening everywhere, loopback answers too: IPv4's for 0.0.0.0, and IPv6's for
        # "::" (asyncio sets IPV6_V6ONLY, so 127.0.0.1 would be refused there).
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.host, self.host)  # noqa: S104
        if ":" in host:
            host = f"[{host}]"
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    @model_validator(mode="after")
    def _loopback_unless_allowed(self) -> ApiSection:
        if not self.allow_remote and not _is_loopback(self.host):
            raise ValueError(
                f"host {self.host!r} is not loopback; set allow_remote = true to listen there"
            )
        if self.allow_remote and not self.allowed_clients:
            raise ValueError(
                "allow_remote needs allowed_clients: the addresses of the office's PCs, "
                "TV and kiosk"
            )
        if self.allow_remote and not self.tls_names:
            raise ValueError(
                "allow_remote needs tls_names: the names or addresses the office's PCs "
                "reach the station by, for its certificate"
            )
        return self


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ClockSection(_Section):
    """For the simulator only: run the station on simulated time, `speed` times real time,
    starting at `start`; `anchor_monotonic_ns` lets a restarted daemon carry on the same
    simulated day."""

    speed: Annotated[float, Field(gt=0, le=1_000_000)] = 1.0
    start: AwareDatetime | None = None
    anchor_monotonic_ns: Annotated[int, Field(ge=0)] | None = None


class LoggingSection(_Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"


class SopSection(_Section):
    budget_minutes: dict[Step, Annotated[float, Field(gt=0, le=24 * 60)]] = Field(
        default_factory=dict
    )
    """Per-step budgets overriding the SOP minutes, e.g. `encode_print = 7`."""

    def budgets(self) -> dict[Step, timedelta]:
        return step_budgets(self.budget_minutes)


DeviceName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]


class Config(_Section):
    station: StationSection
    paths: PathsSection = PathsSection()
    keys: KeysSection = KeysSection()
    # `register` is also a method of pydantic's BaseModel (via ABCMeta): the alias keeps
    # the file's key while the attribute gets a name of its own.
    register_: RegisterSection = Field(default=RegisterSection(), alias="register")
    biometrics: BiometricsSection = BiometricsSection()
    staff: StaffSection = StaffSection()
    logging: LoggingSection = LoggingSection()
    sop: SopSection = SopSection()
    hal: HalSection = HalSection()
    devices: dict[DeviceName, DeviceConfig] = {}
    issuance: IssuanceSection = IssuanceSection()
    pipeline: PipelineSection = PipelineSection()
    oversight: OversightSection = OversightSection()
    targets: TargetsSection = TargetsSection()
    siak: SiakSection = SiakSection()
    api: ApiSection = ApiSection()
    screens: ScreensSection = ScreensSection()
    speech: SpeechSection = SpeechSection()
    uplink: UplinkSection = UplinkSection()
    clock: ClockSection = ClockSection()

    @property
    def state_dir(self) -> Path:
        return self.paths.state_dir

    def state_path(self, path: Path) -> Path:
        return path if path.is_absolute() else self.paths.state_dir / path

    @property
    def register_path(self) -> Path:
        return self.state_path(self.register_.path)

    @property
    def station_key_path(self) -> Path:
        return self.state_path(self.keys.station_key)

    @property
    def biometric_key_path(self) -> Path:
        return self.state_path(self.keys.biometric_key)

    @property
    def document_signer_paths(self) -> tuple[Path, Path]:
        """The document signer's key and certificate."""
        return (
            self.state_path(self.keys.document_signer_key),
            self.state_path(self.keys.document_signer_certificate),
        )

    @property
    def card_key_paths(self) -> tuple[Path, Path, Path]:
        """The chip's master keys: transport, reader, CAN (docs/card.md, "Access control
        and locking")."""
        keys = self.keys
        return (
            self.state_path(keys.card_transport_key),
            self.state_path(keys.card_reader_key),
            self.state_path(keys.card_can_key),
        )

    @property
    def biometrics_dir(self) -> Path:
        return self.state_path(self.biometrics.directory)

    @property
    def staff_path(self) -> Path:
        return self.state_path(self.staff.file)

    def api_verify(self) -> ssl.SSLContext | bool:
        """How a command on the station checks the daemon's TLS: against its own
        certificate (OSError if it is not there yet)."""
        if not self.api.tls:
            return True
        return ssl.create_default_context(cafile=self.state_path(self.api.tls_certificate))

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.station.timezone)


class ConfigError(ApplianceError):
    """The config file cannot be used; names the file, each key and what is wrong."""

    def __init__(self, file: Path, problems: list[ConfigProblem]) -> None:
        self.file = file
        self.problems = problems
        super().__init__(self.render("en"))

    def render(self, language: Literal["id", "en"] = "id") -> str:
        return "\n".join(
            f"{self.file}: {problem.key}: {problem.text.in_language(language)}"
            for problem in self.problems
        )


def load_config(file: Path, *, overlays: Sequence[Path] = ()) -> Config:
    """Read and validate `file`; raises ConfigError with every problem found.

    Each overlay (such as the one `appliance sim` writes) is merged over the file,
    table by table, before validation.
    """
    document = read_document(file)
    for overlay in overlays:
        _merge(document, read_document(overlay))
    return parse_config(document, file=file)


def _merge(base: dict[str, Any], overlay: Mapping[str, Any]) -> None:
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


def read_document(file: Path) -> dict[str, Any]:
    """The TOML document in `file`; raises ConfigError if it cannot be read or parsed."""
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise ConfigError(
            file,
            [
                ConfigProblem(
                    "-", Text(f"tidak dapat dibaca: {exc.strerror}", f"cannot read: {exc.strerror}")
                )
            ],
        ) from None
    try:
        document = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(
            file, [ConfigProblem("-", Text("bukan teks UTF-8", "not UTF-8 text"))]
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            file,
            [ConfigProblem("-", Text(f"bukan TOML yang sah: {exc}", f"not valid TOML: {exc}"))],
        ) from None
    return document


def parse_config(document: Mapping[str, Any], *, file: Path) -> Config:
    config = validate_document(Config, document, file=file)
    state_dir = config.paths.state_dir
    if not state_dir.is_absolute():
        state_dir = (file.parent / state_dir).resolve()
    return config.model_copy(
        update={"paths": config.paths.model_copy(update={"state_dir": state_dir})}
    )


def validate_document(model: type[M], document: Mapping[str, Any], *, file: Path) -> M:
    """`document` (read from `file`) as `model`; raises ConfigError naming each bad key."""
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        raise ConfigError(file, [_problem(error) for error in exc.errors()]) from None
