"""`appliance keys init`: the station's signing key, the biometric master key and the
document signer that signs each card's chip data."""

from __future__ import annotations

from appliance._secrets import SecretFileError
from appliance._text import Text
from appliance.biostore import create_master_key
from appliance.card import DocumentSigner
from appliance.config import Config
from appliance.register import StationKey


def init_keys(config: Config) -> list[Text]:
    """Create all the keys, or none: refuses if any file exists already.

    Replacing the station key would orphan every signature in the register, replacing
    the biometric key would make every stored capture unreadable, and replacing the
    document signer would leave the cards already issued unverifiable here, so there is
    no --force.
    """
    station_path = config.station_key_path
    biometric_path = config.biometric_key_path
    signer_key, signer_certificate = config.document_signer_paths
    for path in (station_path, biometric_path, signer_key, signer_certificate):
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
    DocumentSigner.create(signer_key, signer_certificate, station_id=config.station.id)
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
        Text(
            "penanda tangan dokumen (chip KTP-el) dibuat: {path}",
            "document signer (card chips) created: {path}",
        ).format(path=signer_certificate),
    ]
