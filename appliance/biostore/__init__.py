"""The biometric store: face, fingerprint, iris and signature captures, encrypted at rest.

Biometric captures are the most sensitive data the station holds. They never enter the
register (the signed event log) and never leave the station over MQTT; they live here, and
are destroyed by the retention policy (`appliance.retention`) once the application has
ended: the card activated and handed over, or the file returned.

Layout of a store directory (0700)::

    index.sqlite3        applications (with their wrapped data keys), blobs, purge tally
    blobs/<dir>/<blob_id>.bin

Crypto-shredding. Every application gets its own random 256-bit data key. The data key is
stored only wrapped (AES-256-GCM under the station's master key, bound to the application
id) in the index. Purging an application first deletes that row (SQLite `secure_delete`,
then a truncating WAL checkpoint), which makes every byte of the application's ciphertext
unrecoverable even where the SD card's wear levelling keeps old flash blocks, and only
then unlinks the blob files. The blob format is in `_sealing`.

Crash safety. A blob is written to a temporary file, synced, renamed into place and its
directory synced *before* its index row is committed; a power cut in between leaves an
orphan file that the next `BiometricStore.open` removes, as it removes the files of an
application whose key was deleted but whose files were not unlinked yet. Each purge adds
its counts to a tally in the same transaction that deletes the key, so the register can
be told exactly what was destroyed even if the station dies before telling it.

Biometric bytes are never logged and never put in exception messages.
"""

from ._errors import (
    BiometricStoreError,
    BlobCorrupt,
    BlobNotFound,
    MasterKeyError,
    StoreFull,
)
from ._index import read_held
from ._model import BlobRef, Modality, PurgeTally, create_master_key
from ._store import BiometricStore

__all__ = [
    "BiometricStore",
    "BiometricStoreError",
    "BlobCorrupt",
    "BlobNotFound",
    "BlobRef",
    "MasterKeyError",
    "Modality",
    "PurgeTally",
    "StoreFull",
    "create_master_key",
    "read_held",
]
