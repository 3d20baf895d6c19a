"""The station's screens: server-rendered pages (Jinja2), htmx for partial updates and
server-sent events for live ones, Indonesian first. The officers' consoles (`/loket`,
`/kasi`, `/operator`) behind a cookie session; the waiting-room board (`/board`) and the
ticket kiosk (`/kiosk`) without one, and without anything personal."""

from ._app import mount_screens
from ._settings import ScreensSection

__all__ = ["ScreensSection", "mount_screens"]
