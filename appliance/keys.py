"""`appliance keys init`: the station's signing key, the biometric master key, the
document signer that signs each card's chip data, and the chip's three master keys."""

from __future__ import annotations

from pathlib import Path

from appliance._secrets import SecretFileError, private_directory
from appliance._text import Text
from appliance.biostore import create_master_key
from appliance.card import CardKeys, DocumentSigner
from appliance.config import Config
from appliance.register import StationKey


def init_keys(config: Config) -> list[Text]:
    """Create all the keys, or none: refuses if any file exists already.

    Replacing the station key would orphan every signature in the register, replacing
    the biometric key would make every stored capture unreadable, and replacing the
    document signer would leave the cards already issued unverifiable here (and a new
    card master key would leave them unreadable: their CANs and reader keys come from
    it), so there is no --force.
    """
    station_path = config.station_key_path
    biometric_path = config.biometric_key_path
    signer_key, signer_certificate = config.document_signer_paths
    card_keys = config.card_key_paths
    for path in (station_path, biometric_path, signer_key, signer_certificate, *card_keys):
        if path.exists():
            raise SecretFileError(
                f"{path}: already exists; refusing to overwrite it "
                "(a new key would orphan what the old one protects)"
            )
    secure_state_directories(config)
    key = StationKey.generate()
    key.save(station_path)
    public_path = station_path.with_suffix(".pub")
    public_path.write_bytes(key.public_key.to_pem())
    create_master_key(biometric_path)
    DocumentSigner.create(signer_key, signer_certificate, station_id=config.station.id)
    CardKeys.create(card_keys)
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
        Text(
            "kunci induk chip kartu dibuat (transpor, pembaca, CAN): {paths}",
            "card chip master keys created (transport, reader, CAN): {paths}",
        ).format(paths=", ".join(str(path) for path in card_keys)),
    ]


def secure_state_directories(config: Config) -> None:
    """Make the state directory, and the directories in it that hold the keys, the
    register and the biometric store, owner-only (0700), whatever the umask the station
    was started under (by hand, by `appliance demo`, or by a unit without `UMask`)."""
    state = config.state_dir
    private_directory(state, tighten=True)
    signer_key, _ = config.document_signer_paths
    for path in (
        config.station_key_path.parent,
        config.biometric_key_path.parent,
        signer_key.parent,
        *(path.parent for path in config.card_key_paths),
        config.register_path.parent,
        config.biometrics_dir,
    ):
        # A path outside the state directory is the administrator's choice: created
        # private if missing, never changed.
        private_directory(path, tighten=_inside(path, state))


def _inside(path: Path, directory: Path) -> bool:
    return path.resolve().is_relative_to(directory.resolve())
