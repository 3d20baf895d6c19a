"""The device registry: every driver declares itself once, beside its own code.

A driver module ends with one `register(DeviceType(...))` naming its device class (whose
`kind` says what sort of device it is and what people call it), its config model (whose
`kind` Literal is the tag of its `[devices.<name>]` table), how to build the driver from
that config, and its readiness checklist: what the doctor tells a technician, beyond the
advice every device shares, when the device is not found or talks nonsense. The station's
config (`DeviceConfig`), `build_devices` and the doctor read this registry, and nothing
else lists the drivers.

The drivers are found by importing every module of `appliance.hal` on the first look-up,
so a new driver is one new module (and its simulator), with no import to add elsewhere.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Generic, Protocol, TypeVar, get_args

from pydantic import BaseModel
from pydantic_core import PydanticCustomError

from appliance._text import Text

if TYPE_CHECKING:
    from ._device import Device

C = TypeVar("C", bound=BaseModel)
C_co = TypeVar("C_co", bound=BaseModel, covariant=True)
C_contra = TypeVar("C_contra", bound=BaseModel, contravariant=True)

UDEV_RULES_FILE: Final = "systemd/70-ktpel-station.rules"
"""The udev rules that name the station's devices under /dev/ktpel and open them to it."""


@dataclass(frozen=True, slots=True)
class DeviceKind:
    """What sort of device a driver drives, as status, telemetry and the doctor name it.

    Two drivers of the same sort (a face camera on SBI or on V4L2) share one kind.
    """

    value: str
    label: Text
    """What an officer or technician calls it, e.g. "printer tiket antrean"."""

    def __str__(self) -> str:
        return self.value


class DeviceFactory(Protocol[C_contra]):
    def __call__(self, *, name: str, config: C_contra) -> Device: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfiguredDevice(Generic[C_co]):
    """A device as the station's config has it, for its checklist to speak of."""

    name: str
    """Its `[devices.<name>]` key."""
    label: Text
    """Its kind as people call it."""
    config: C_co


class Checklist(Generic[C_contra]):
    """What to check for a device of one transport, beyond the advice every device shares.

    Each method returns None where the shared advice is all there is to say.
    """

    def not_found(self, device: ConfiguredDevice[C_contra]) -> Text | None:  # noqa: ARG002
        """Where to look, said after "check its cable and power", when it is not found."""
        return None

    def garbage(self, device: ConfiguredDevice[C_contra]) -> Text | None:  # noqa: ARG002
        """What to check when it answers with data it should not."""
        return None

    def device_path(self, device: ConfiguredDevice[C_contra]) -> str | None:  # noqa: ARG002
        """The device file it is opened through, for "who else holds it" (`fuser`)."""
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceType(Generic[C]):
    """One driver, as the station's config, `build_devices` and the doctor know it."""

    device: type[Device]
    config: type[C]
    build: DeviceFactory[C]
    checklist: Checklist[C] = field(default_factory=Checklist)

    @property
    def tag(self) -> str:
        """The `kind` a `[devices.<name>]` table names this driver by."""
        kind = self.config.model_fields.get("kind")
        tags = () if kind is None else get_args(kind.annotation)
        if len(tags) != 1 or not isinstance(tags[0], str):
            raise TypeError(f"{self.config.__name__}.kind must be a Literal of one string")
        tag: str = tags[0]
        return tag

    @property
    def kind(self) -> DeviceKind:
        return self.device.kind


_types: dict[str, DeviceType[Any]] = {}
_loaded = False


def register(device_type: DeviceType[Any]) -> None:
    """Make a driver known; at import of its module, once."""
    tag = device_type.tag
    if tag in _types and _types[tag] != device_type:
        raise ValueError(f"two drivers register the device kind tag {tag!r}")
    kind = device_type.kind
    for other in _types.values():
        if other.kind.value == kind.value and other.kind != kind:
            raise ValueError(f"two drivers describe the device kind {kind.value!r} differently")
    _types[tag] = device_type


def unregister(tag: str) -> None:
    """Forget a driver (for a test that registered one of its own)."""
    _types.pop(tag, None)


def device_types() -> Mapping[str, DeviceType[Any]]:
    """Every registered driver, by the tag its config tables carry."""
    _load_drivers()
    return MappingProxyType(_types)


def device_type_of(config: BaseModel) -> DeviceType[Any]:
    """The driver a validated `[devices.<name>]` table belongs to."""
    return device_types()[str(getattr(config, "kind", ""))]


def device_kind(value: str) -> DeviceKind | None:
    """The kind a status report names, if a registered driver drives it."""
    return next((t.kind for t in device_types().values() if t.kind.value == value), None)


def parse_device_config(value: Any) -> BaseModel:
    """A `[devices.<name>]` table as its driver's config model, chosen by its `kind`.

    Errors read as pydantic's for a discriminated union, so the config's messages (and
    their Indonesian wording) stay those of a tagged union.
    """
    if isinstance(value, BaseModel) and type(value) in {t.config for t in device_types().values()}:
        return value
    if not isinstance(value, Mapping) or "kind" not in value:
        raise PydanticCustomError(
            "union_tag_not_found",
            "Unable to extract tag using discriminator {discriminator}",
            {"discriminator": "'kind'"},
        )
    device_type = device_types().get(str(value["kind"]))
    if device_type is None:
        raise PydanticCustomError(
            "union_tag_invalid",
            "Input tag {tag} found using {discriminator} does not match any of the "
            "expected tags: {expected_tags}",
            {
                "tag": repr(value["kind"]),
                "discriminator": "'kind'",
                "expected_tags": ", ".join(repr(tag) for tag in sorted(device_types())),
            },
        )
    config: BaseModel = device_type.config.model_validate(value)
    return config


def _load_drivers() -> None:
    global _loaded  # noqa: PLW0603 - the registry is filled once per process
    if not _loaded:
        package = importlib.import_module("appliance.hal")
        for module in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{package.__name__}.{module.name}")
        _loaded = True
