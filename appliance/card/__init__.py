"""The KTP-el's chip data and card face.

The chip follows ICAO 9303 (LDS 1.8 in the eMRTD application): DG1 the printed fields,
DG2 the face, DG3 two fingerprint templates, DG7 the signature, and EF.SOD, the hash of each
group signed by the station's document signer. `build_card_files` writes them all;
`read_card` verifies a card read back and refuses one whose data or signer is not genuine.
`render_card_face` draws the front as the card printer prints it. See docs/card.md.
"""

from appliance.card._errors import (
    CardDataError,
    CardError,
    CardVerificationError,
    VerificationCode,
)
from appliance.card._face import CARD_FACE_DPI, CARD_FACE_SIZE, face_png, render_card_face
from appliance.card._holder import (
    LIFETIME,
    BloodType,
    CardHolder,
    Citizenship,
    RegencyKind,
    Religion,
)
from appliance.card._images import CardImage, ImageFormat
from appliance.card._keys import (
    TRANSPORT_LABEL,
    CardKeys,
    CardSecrets,
    diversify,
    load_transport_master,
)
from appliance.card._lds import (
    CARD_AID,
    FILE_IDS,
    CardContents,
    build_card_files,
    decode_com,
    encode_com,
    read_card,
)
from appliance.card._lds_biometrics import (
    FingerTemplateRecord,
    decode_dg2,
    decode_dg3,
    decode_dg7,
    encode_dg2,
    encode_dg3,
    encode_dg7,
)
from appliance.card._lds_dg1 import DG1_TAGS, decode_dg1, encode_dg1
from appliance.card._signer import CERTIFICATE_VALIDITY, DocumentSigner, DocumentSignerError
from appliance.card._sod import parse_sod, sign_sod, verify_sod
from appliance.card._tlv import Tlv, decode_tlv, decode_tlvs, encode_tlv

__all__ = [
    "CARD_AID",
    "CARD_FACE_DPI",
    "CARD_FACE_SIZE",
    "CERTIFICATE_VALIDITY",
    "DG1_TAGS",
    "FILE_IDS",
    "LIFETIME",
    "TRANSPORT_LABEL",
    "BloodType",
    "CardContents",
    "CardDataError",
    "CardError",
    "CardHolder",
    "CardImage",
    "CardKeys",
    "CardSecrets",
    "CardVerificationError",
    "Citizenship",
    "DocumentSigner",
    "DocumentSignerError",
    "FingerTemplateRecord",
    "ImageFormat",
    "RegencyKind",
    "Religion",
    "Tlv",
    "VerificationCode",
    "build_card_files",
    "decode_com",
    "decode_dg1",
    "decode_dg2",
    "decode_dg3",
    "decode_dg7",
    "decode_tlv",
    "decode_tlvs",
    "diversify",
    "encode_com",
    "encode_dg1",
    "encode_dg2",
    "encode_dg3",
    "encode_dg7",
    "encode_tlv",
    "face_png",
    "load_transport_master",
    "parse_sod",
    "read_card",
    "render_card_face",
    "sign_sod",
    "verify_sod",
]
