"""`appliance keys init`: the station's signing key and the biometric master key."""

from __future__ import annotations

from appliance._secrets import SecretFileError
from appliance._text import Text
from appliance.biostore import create_master_key
from appliance.config import Config
from appliance.register import StationKey


def init_keys(config: Config) -> list[Text]:
    """Create both keys, or neither: refuses if either file exists already.

    Replacing the station key would orphan every signature in the register, and replacing
    the biometric key would make every stored capture unreadable, so there is no --force.
    """
    station_path = config.station_key_path
    biometric_path = config.biometric_key_path
    for path in (station_path, biometric_path):
        if path.exists():
            raise SecretFileError(
                f"{path}: already exists; refusing to overwrite it "
                "(a new key would orphan what the old one protects)"
            )
    key = StationKey.generate()
    key.save(station_path)
    public_path = station_path.with_suffix(".pub")
    public_path.write_bytes(key.public_key.to_pem())
    create_master_key(biometric_path)
    public = key.public_key
    return [
        Text("kunci stasiun dibuat: {path}", "station key created: {path}").format(
            path=station_path
        ),
        Text(
            "kunci publik (daftarkan di kantor pusat): {pub} — sidik {fp}",
            "public key (register it with the central office): {pub} — fingerprint {fp}",
        ).format(pub=public_path, fp=public.fingerprint),
        Text("kunci induk biometrik dibuat: {path}", "biometric master key created: {path}").format(
            path=biometric_path
        ),
    ]
