"""`[speech]`: the spoken calls in the waiting room."""

from __future__ import annotations

from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, Field

OFF: Final = "off"


class SpeechSection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    """Calls are spoken at all: by the station, and for a board that plays them itself."""
    device: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.,:=-]{1,64}$")] = "default"
    """The ALSA device the station plays calls on (`aplay -L` lists them, e.g.
    `plughw:CARD=Device,DEV=0` for a USB speaker), or "off" when only a board plays them
    (`/board?suara=1`)."""
    voice: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_+-]{0,31}$")] = "id"
    """espeak-ng's voice (`espeak-ng --voices=id`); a variant after "+", e.g. "id+f3"."""
    speed: Annotated[int, Field(ge=80, le=260)] = 140
    """Words a minute: a little slower than espeak-ng's 175, for a noisy room."""

    @property
    def plays_on_station(self) -> bool:
        return self.enabled and self.device != OFF
