"""The one base of the station's exceptions.

Each package keeps a short taxonomy of its own (`RegisterError`, `DeviceError`,
`PipelineError`, `StoreError`, ...), rooted here, so a caller at the edge (the CLI, the
daemon's top level) can tell the station's own refusals from a bug with one `except`.
Library exceptions are translated into a package's own at one place in that package.
"""

from __future__ import annotations


class ApplianceError(Exception):
    """Something the station itself refused or could not do, with a message that says why."""


__all__ = ["ApplianceError"]
