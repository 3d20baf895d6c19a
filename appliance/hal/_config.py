"""From the station config's `[devices.<name>]` tables to driver instances.

Each driver owns its config model (a `kind` tag plus its transport's settings) and
registers it (`_registry`); this module reads the registry and lists no driver itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, SerializeAsAny

from ._device import Device
from ._registry import device_type_of, parse_device_config

DeviceConfig = Annotated[SerializeAsAny[BaseModel], PlainValidator(parse_device_config)]
"""A `[devices.<name>]` table: the config model of the driver its `kind` names."""


class HalSection(BaseModel):
    """How the supervisor watches devices."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    poll_interval_s: float = Field(default=5.0, gt=0, le=60)
    """Between operations, how often a ready device is asked how it is (a hang or a
    quiet unplug is noticed this way; an operation notices at once). Every poll wakes
    the station: an idle station should do little else. A device that is there but not
    ready is asked again on the reconnect backoff instead, for a while."""
    reconnect_initial_s: float = Field(default=0.1, gt=0, le=60)
    reconnect_max_s: float = Field(default=1.0, gt=0, le=600)


def build_devices(configs: Mapping[str, DeviceConfig]) -> list[Device]:
    """One driver per `[devices.<name>]` table, built by the driver its `kind` names."""
    return [
        device_type_of(config).build(name=name, config=config) for name, config in configs.items()
    ]
