"""`appliance central`'s configuration: the collector's sections, the dashboard's, the
alerts' thresholds and the targets reports are measured against.

```toml
[central]
id = "pusat-1"                       # this collector; several may share the load
state_dir = "/var/lib/ktpel-central"
store = "sqlite:collector.sqlite3"   # or "postgresql://user@host/db"
[broker]
host = "broker.example"
```
The config is validated as strictly as the station's: unknown keys are errors, and a bad
file exits 2 naming the file, the key and the problem.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from appliance.config import LoggingSection, read_document, validate_document
from appliance.reports import TargetsSection
from appliance.sync import BrokerSection, CollectorSection


class CentralConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    central: CollectorSection
    broker: BrokerSection
    logging: LoggingSection = LoggingSection()
    targets: TargetsSection = TargetsSection()
    """What the stations' reports are measured against (docs/oversight.md, "Reports")."""

    def state_path(self, path: Path) -> Path:
        return path if path.is_absolute() else self.central.state_dir / path

    @property
    def store_url(self) -> str:
        url = self.central.store
        if url.startswith("sqlite:"):
            return f"sqlite:{self.state_path(Path(url.removeprefix('sqlite:')))}"
        return url


def load_central_config(file: Path) -> CentralConfig:
    config = validate_document(CentralConfig, read_document(file), file=file)
    state_dir = config.central.state_dir
    if not state_dir.is_absolute():
        state_dir = (file.parent / state_dir).resolve()
    central = config.central.model_copy(update={"state_dir": state_dir})
    return config.model_copy(update={"central": central})
