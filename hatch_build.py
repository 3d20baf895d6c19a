"""The wheel carries the screens' browser scripts: fetched from the npm registry through
package.json and its lockfile at build time (scripts/vendor_assets.py), never committed."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class VendorAssets(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "vendor-assets"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        script = Path(self.root) / "scripts" / "vendor_assets.py"
        spec = importlib.util.spec_from_file_location("vendor_assets", script)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        copied = module.vendor(Path(self.root))
        if version == "editable":
            return  # served from the checkout, where they were just copied
        for path in copied:
            relative = path.relative_to(self.root).as_posix()
            build_data["force_include"][str(path)] = relative
