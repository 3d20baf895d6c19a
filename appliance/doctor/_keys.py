"""Whether the station's secret files are fit for the service to use.

The station refuses a secret that is missing, a symbolic link, readable by others, or
(for the service) owned by another user; the doctor checks each the same way, says which
file and what command fixes it, and checks the central office's public key as well.
"""

from __future__ import annotations

import pwd
import stat
from dataclasses import dataclass
from pathlib import Path

from appliance._text import Text
from appliance.config import Config
from appliance.register import PublicKey, RegisterError

from ._report import Finding, Level, _capitalised

_CARD_KEY_LABELS = (
    Text("kunci transpor kartu blangko", "blank card transport key"),
    Text("kunci pembaca sidik jari chip", "chip fingerprint reader key"),
    Text("kunci CAN kartu", "card access number key"),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class _SecretFile:
    label: Text
    path: Path
    missing: Text


def _key_findings(config: Config) -> list[Finding]:
    """The secret files: present, a plain file, 0600, owned by the service's user."""
    from_keys_init = Text(
        "Di stasiun baru: `appliance keys init --config …`. Jika stasiun ini pernah melayani, "
        "pulihkan kunci dari cadangan: kunci baru tidak dapat membuka apa yang dilindungi kunci "
        "lama.",
        "On a new station: `appliance keys init --config …`. If this station has served "
        "before, restore the key from its backup: a new key cannot open what the old one "
        "protects.",
    )
    from_central = Text(
        "Minta berkas itu ke kantor pusat dan simpan dengan mode 0600, milik pengguna ktpel.",
        "Ask the central office for that file and keep it with mode 0600, owned by the ktpel user.",
    )
    secrets = [
        _SecretFile(
            label=Text("kunci tanda tangan stasiun", "station signing key"),
            path=config.station_key_path,
            missing=from_keys_init,
        ),
        _SecretFile(
            label=Text("kunci induk biometrik", "biometric master key"),
            path=config.biometric_key_path,
            missing=from_keys_init,
        ),
        _SecretFile(
            label=Text("kunci penanda tangan dokumen", "document signer key"),
            path=config.document_signer_paths[0],
            missing=from_keys_init,
        ),
        *(
            _SecretFile(label=label, path=path, missing=from_keys_init)
            for label, path in zip(_CARD_KEY_LABELS, config.card_key_paths, strict=True)
        ),
    ]
    uplink = config.uplink
    if uplink.enabled and uplink.password_file is not None:
        secrets.append(
            _SecretFile(
                label=Text("kata sandi broker", "broker password"),
                path=config.state_path(uplink.password_file),
                missing=from_central,
            )
        )
    if uplink.enabled and uplink.key is not None:
        secrets.append(
            _SecretFile(
                label=Text("kunci klien TLS broker", "broker TLS client key"),
                path=config.state_path(uplink.key),
                missing=from_central,
            )
        )
    service_uid = _owner_uid(config.state_dir)
    findings = [
        finding
        for secret in secrets
        if (finding := _secret_finding(secret, service_uid)) is not None
    ]
    if uplink.enabled:
        findings.extend(_central_key_finding(config.state_path(uplink.central_public_key)))
    if findings:
        return findings
    return [
        Finding(
            check="keys",
            level=Level.OK,
            text=Text(
                "Berkas rahasia ada dan hanya dapat dibaca pemiliknya (0600): {files}",
                "The secret files are there and readable by their owner only (0600): {files}",
            ).format(
                files=Text(
                    ", ".join(s.label.id for s in secrets), ", ".join(s.label.en for s in secrets)
                ),
            ),
            details={"files": [str(s.path) for s in secrets]},
        )
    ]


def _secret_finding(secret: _SecretFile, service_uid: int | None) -> Finding | None:
    label = _capitalised(secret.label)
    details = {"path": str(secret.path)}
    try:
        info = secret.path.lstat()
    except FileNotFoundError:
        return Finding(
            check="keys",
            level=Level.PROBLEM,
            text=Text("{label} tidak ada: {path}", "{label} is missing: {path}").format(
                label=label, path=secret.path
            ),
            advice=secret.missing,
            details=details,
        )
    except OSError as error:
        # A technician in the service's group reads the config, not the 0700 state dir.
        return Finding(
            check="keys",
            level=Level.WARNING,
            text=Text(
                "{label} {path} tidak dapat diperiksa oleh pengguna ini: {error}",
                "{label} {path} cannot be checked by this user: {error}",
            ).format(label=label, path=secret.path, error=error.strerror or error),
            advice=Text(
                "Jalankan doctor sebagai pengguna layanan: `sudo -u ktpel appliance doctor "
                "--config …`.",
                "Run the doctor as the service's user: `sudo -u ktpel appliance doctor "
                "--config …`.",
            ),
            details=details,
        )
    if not stat.S_ISREG(info.st_mode):
        # The station opens secrets with O_NOFOLLOW: a symbolic link is refused.
        return Finding(
            check="keys",
            level=Level.PROBLEM,
            text=Text(
                "{label} {path} bukan berkas biasa (tautan simbolik?); stasiun menolaknya",
                "{label} {path} is not a plain file (a symbolic link?); the station refuses it",
            ).format(label=label, path=secret.path),
            advice=Text(
                "Ganti tautan itu dengan berkasnya sendiri (mode 0600).",
                "Replace the link with the file itself (mode 0600).",
            ),
            details=details,
        )
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        return Finding(
            check="keys",
            level=Level.PROBLEM,
            text=Text(
                "{label} {path} dapat dibaca pengguna lain (mode {mode:04o}, harus 0600); "
                "stasiun menolak memakainya",
                "{label} {path} is readable by others (mode {mode:04o}, must be 0600); the "
                "station refuses to use it",
            ).format(label=label, path=secret.path, mode=mode),
            advice=Text(
                "Jalankan: `sudo chmod 600 {path}`.", "Run: `sudo chmod 600 {path}`."
            ).format(path=secret.path),
            details={**details, "mode": f"{mode:04o}"},
        )
    if service_uid is not None and info.st_uid != service_uid:
        owner, service = _user_name(info.st_uid), _user_name(service_uid)
        return Finding(
            check="keys",
            level=Level.WARNING,
            text=Text(
                "{label} {path} milik {owner}, sedangkan layanan berjalan sebagai {service} "
                "(pemilik direktori data); layanan tidak dapat membacanya",
                "{label} {path} belongs to {owner}, while the service runs as {service} "
                "(the state directory's owner); the service cannot read it",
            ).format(label=label, path=secret.path, owner=owner, service=service),
            advice=Text(
                "Jalankan: `sudo chown {service}: {path}`.",
                "Run: `sudo chown {service}: {path}`.",
            ).format(service=service, path=secret.path),
            details={**details, "owner": owner},
        )
    return None


def _central_key_finding(path: Path) -> list[Finding]:
    try:
        PublicKey.load(path)
    except RegisterError as exc:
        return [
            Finding(
                check="keys",
                level=Level.PROBLEM,
                text=Text(
                    "Kunci publik kantor pusat tidak dapat dipakai: {error}",
                    "The central office's public key cannot be used: {error}",
                ).format(error=exc),
                advice=Text(
                    "Pasang central.pub dari kantor pusat di {path} (docs/deploy.md, "
                    "langkah 3); tanpanya stasiun tidak menerima tanda terima dari pusat.",
                    "Install central.pub from the central office at {path} (docs/deploy.md, "
                    "step 3); without it the station accepts no acknowledgement from them.",
                ).format(path=path),
                details={"path": str(path)},
            )
        ]
    return []


def _owner_uid(path: Path) -> int | None:
    try:
        return path.stat().st_uid
    except OSError:
        return None  # the disk check reports a missing state directory


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)
