"""The station's local HTTP API (FastAPI on loopback): operator actions by role, views,
live events per audience, OpenAPI at `/openapi.json`; served by `ApiServer` as one task
of the station's TaskGroup."""

from ._app import API_PREFIX, create_app
from ._deps import ApiContext
from ._errors import ApiError, ErrorBody
from ._live import LiveEvents
from ._projection import Audience
from ._server import ApiServer, ApiUnavailable, LanMode
from ._tls import ensure_certificate

__all__ = [
    "API_PREFIX",
    "ApiContext",
    "ApiError",
    "ApiServer",
    "ApiUnavailable",
    "Audience",
    "ErrorBody",
    "LanMode",
    "LiveEvents",
    "create_app",
    "ensure_certificate",
]
