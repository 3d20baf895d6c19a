"""The central office's dashboard: a FastAPI app of server-rendered pages (Jinja2
templates in `appliance/central/templates/`, htmx and server-sent events, the station's
static files and the central office's stylesheet), Indonesian first.

Signing in (`_signin`), the overview of the user's scope (`_overview`, worded by
`_overview_view`), the alerts page (`_alerts_page`), the live feed (`_live`), sessions,
CSRF and the role and scope checks (`_auth`), the parts composed over the database
(`_compose`), and the app (`_app`: `DASHBOARD_ROUTERS`, where a new page's router is
listed). docs/central.md tells how it is used.
"""

from ._app import DASHBOARD_ROUTERS, create_dashboard
from ._auth import Acknowledger, Csrf, DashboardError, Diagnoser, SignedIn
from ._compose import compose_context
from ._context import Context, DashboardContext
from ._live import LiveFeed, database_markers
from ._render import Renderer

__all__ = [
    "DASHBOARD_ROUTERS",
    "Acknowledger",
    "Context",
    "Csrf",
    "DashboardContext",
    "DashboardError",
    "Diagnoser",
    "LiveFeed",
    "Renderer",
    "SignedIn",
    "compose_context",
    "create_dashboard",
    "database_markers",
]
