"""`appliance`: the station's command line.

Exit codes are a contract: 0 ok, 1 a runtime failure (a damaged register, a key that
exists already), 2 bad usage or a bad config file, with a message that names the file,
the key and the problem.

One module per command group, each adding its commands to the parser and holding their
handlers: `_setup` (config check, keys init), `_register` (verify, export), `_station`
(run, status, doctor), `_staff`, `_central`, `_simulator` (sim, demo); `_main` is the
parser and the one place errors become messages and exit codes; `_core` what they share.
"""

from ._core import EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from ._main import main, run

__all__ = ["EXIT_FAILURE", "EXIT_OK", "EXIT_USAGE", "main", "run"]
