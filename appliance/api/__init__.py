"""The station's local HTTP API (FastAPI on loopback): operator actions by role, views,
live events, OpenAPI at `/openapi.json`."""

from ._app import create_app
from ._errors import ApiError, ErrorBody
from ._live import LiveEvents

__all__ = ["ApiError", "ErrorBody", "LiveEvents", "create_app"]
