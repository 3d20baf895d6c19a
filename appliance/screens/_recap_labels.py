"""The words of a recap's and the figures' counts, keyed as the figures' document keys
them (a channel's, a category's or a status's value), for the leadership's console and
the waiting-room board alike."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from appliance._text import Text
from appliance.domain import ComplaintState
from appliance.oversight import Category, Channel, Grade

STATUS_LABELS: Final[Mapping[str, Text]] = MappingProxyType(
    {
        ComplaintState.RECEIVED.value: Text("Diterima", "Received"),
        ComplaintState.VERIFIED.value: Text("Diverifikasi", "Verified"),
        ComplaintState.FOLLOWED_UP.value: Text("Ditindaklanjuti", "Followed up"),
        ComplaintState.CLOSED.value: Text("Selesai", "Closed"),
    }
)
CHANNEL_LABELS: Final[Mapping[str, Text]] = MappingProxyType(
    {channel.value: channel.label for channel in Channel}
)
CATEGORY_LABELS: Final[Mapping[str, Text]] = MappingProxyType(
    {category.value: category.label for category in Category}
)
GRADE_LABELS: Final[Mapping[str, Text]] = MappingProxyType(
    {grade.value: grade.label for grade in Grade}
)
LABELS: Final[Mapping[str, Mapping[str, Text]]] = MappingProxyType(
    {
        "status": STATUS_LABELS,
        "channel": CHANNEL_LABELS,
        "category": CATEGORY_LABELS,
        "grade": GRADE_LABELS,
    }
)
"""What the templates get as `labels`."""
