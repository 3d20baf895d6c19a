"""The station's screens: server-rendered pages (Jinja2), htmx for partial updates and
server-sent events for live ones, Indonesian first. The officers' consoles (`/loket`,
`/kasi`, `/operator`) behind a cookie session; the waiting-room board (`/board`) and the
ticket kiosk (`/kiosk`) without one, and without anything personal."""

from ._app import mount_screens
from ._i18n import LANGUAGE_COOKIE, LANGUAGES, Translator, language_of
from ._render import STATIC
from ._settings import ScreensSection

# The central office's dashboard (appliance.central.web) shares the language switch and
# the static files: one look, one htmx, for the station and the regency.
__all__ = [
    "LANGUAGES",
    "LANGUAGE_COOKIE",
    "STATIC",
    "ScreensSection",
    "Translator",
    "language_of",
    "mount_screens",
]
