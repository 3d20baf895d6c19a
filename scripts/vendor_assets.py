#!/usr/bin/env python3
"""Put the screens' third-party browser scripts in place: `npm ci` from package.json and
its lockfile (only when node_modules is older than the lock), then copy each file named in
package.json's `vendor` map into appliance/screens/static/vendor/. Run by the bootstrap
and by the wheel build (hatch_build.py); the copies are never committed.

Standard library only: it runs before the virtual environment exists.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "appliance" / "screens" / "static" / "vendor"


def vendor(root: Path = ROOT, target: Path = TARGET) -> list[Path]:
    manifest = json.loads((root / "package.json").read_text(encoding="utf-8"))
    modules = root / "node_modules"
    lock = root / "package-lock.json"
    stamp = modules / ".package-lock.json"  # npm writes it on every install
    if not stamp.exists() or stamp.stat().st_mtime < lock.stat().st_mtime:
        npm = shutil.which("npm")
        if npm is None:
            sys.exit("vendor_assets: npm is not installed (Debian package npm)")
        subprocess.run(  # noqa: S603 - a fixed command line
            [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=root, check=True
        )
    target.mkdir(parents=True, exist_ok=True)
    copied = []
    for name, source in manifest["vendor"].items():
        destination = target / name
        shutil.copyfile(modules / source, destination)
        copied.append(destination)
    return copied


if __name__ == "__main__":
    for path in vendor():
        print(f"vendor_assets: {path.relative_to(ROOT)}", file=sys.stderr)  # noqa: T201
