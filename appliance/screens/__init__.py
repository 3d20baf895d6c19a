"""The station's screens: server-rendered pages (Jinja2), htmx for partial updates and
server-sent events for live ones, Indonesian first. The officers' consoles (`/loket`,
`/kasi`, `/operator`) behind a cookie session; the waiting-room board (`/board`) and the
ticket kiosk (`/kiosk`) without one, and without anything personal."""

from ._app import mount_screens
from ._i18n import LANGUAGE_COOKIE, LANGUAGES, Translator, language_of
from ._render import STATIC, render_html, template_environment
from ._settings import ScreensSection
from ._web import (
    BACKGROUND_HEADER,
    back_to,
    cookie_csrf,
    csrf_holds,
    is_tls,
    local_path,
    remember_cookie_csrf,
    sign_in_url,
)

# The central office's dashboard (appliance.central.web) shares the language switch, the
# static files and the sessions' web mechanics: one look, one htmx, one CSRF rule.
__all__ = [
    "BACKGROUND_HEADER",
    "LANGUAGES",
    "LANGUAGE_COOKIE",
    "STATIC",
    "ScreensSection",
    "Translator",
    "back_to",
    "cookie_csrf",
    "csrf_holds",
    "is_tls",
    "language_of",
    "local_path",
    "mount_screens",
    "remember_cookie_csrf",
    "render_html",
    "sign_in_url",
    "template_environment",
]
