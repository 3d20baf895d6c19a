"""The direction of imports that docs/architecture.md draws, kept true: a package imports
only from the layers below it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "appliance"

FOUNDATION = {
    "_text",
    "_version",
    "errors",
    "clock",
    "logs",
    "_sqlite",
    "_secrets",
    "_backoff",
    "diskspace",
    "liveness",
}
# What each package may import besides the foundation and itself.
ALLOWED = {
    "domain": set(),
    "oversight": {"domain"},
    "register": {"domain", "oversight"},
    "reports": {"domain", "oversight"},
    "hal": set(),
    "card": {"domain"},
    "fingerprint": set(),
    "biostore": set(),
    "issuance": {"domain", "register", "hal", "card", "fingerprint"},
    "pipeline": {
        "domain",
        "oversight",
        "register",
        "hal",
        "card",
        "fingerprint",
        "issuance",
        "biostore",
    },
}


def _imports_of(package: str) -> set[tuple[str, str]]:
    found = set()
    for path in (ROOT / package).rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                parts = name.split(".")
                if parts[0] == "appliance" and len(parts) > 1:
                    found.add((path.relative_to(ROOT).as_posix(), parts[1]))
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_a_package_imports_only_from_below(package: str) -> None:
    allowed = FOUNDATION | ALLOWED[package] | {package}
    wrong = sorted((where, what) for where, what in _imports_of(package) if what not in allowed)
    assert not wrong, f"{package} imports from above it: {wrong}"
