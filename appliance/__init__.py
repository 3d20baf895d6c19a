"""ktpel-station: the software of a kecamatan office's KTP-el recording and printing station."""

from appliance._version import __version__

__all__ = ["__version__"]
