"""Blank cards in the register, one by one: fed, personalised, printed, issued or spoiled.

Whatever order the station's work and its failures take, the stock is received - issued
- spoiled, every card that left the hopper is either open (and listed for recovery) or
closed with its outcome, and a replay of the events gives the same state.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from appliance.clock import ManualClock
from appliance.register import (
    EventType,
    InvalidEvent,
    PublicKey,
    Register,
    StationKey,
    verify_register,
)
from tests.support import SUBMITTED

PERSONALISED = {"security_object_sha256": "ab" * 32, "chip_fingers": [2, 7]}


def _submit(register: Register, app: str) -> None:
    register.append(EventType.APPLICATION_SUBMITTED, SUBMITTED, application_id=app)


def _public_key(register: Register) -> PublicKey:
    return PublicKey.from_hex(next(register.events()).data["public_key"])


def test_a_card_is_followed_from_the_hopper_to_the_holder(register: Register) -> None:
    _submit(register, "A1")
    register.append(EventType.BLANK_RECEIVED, {"count": 2, "reference": "BA-1"})
    register.append(EventType.BLANK_FED, {"printer": "card_printer"}, application_id="A1")
    (card,) = register.open_cards()
    assert (card.application_id, card.state, card.card_serial) == ("A1", "fed", None)
    stock = register.blank_stock()
    assert (stock.stock, stock.in_process, stock.available) == (2, 1, 1)

    register.append(
        EventType.CARD_PERSONALISED, {"card_serial": "K1", **PERSONALISED}, application_id="A1"
    )
    register.append(EventType.CARD_PRINTED, {"card_serial": "K1"}, application_id="A1")
    register.append(
        EventType.CARD_ACTIVATION_ATTEMPT,
        {
            "card_serial": "K1",
            "finger": 2,
            "attempt": 1,
            "score": 61000,
            "threshold": 40000,
            "matched": True,
        },
        application_id="A1",
    )
    (card,) = register.open_cards()
    assert (card.state, card.card_serial) == ("printed", "K1")
    register.append(EventType.BLANK_ISSUED, {"card_serial": "K1"}, application_id="A1")
    assert register.open_cards() == []
    stock = register.blank_stock()
    assert (stock.received, stock.issued, stock.spoiled, stock.in_process) == (2, 1, 0, 0)
    assert verify_register(register.path, _public_key(register)).ok


def test_a_spoiled_card_closes_the_applications_card_and_keeps_its_reason(
    register: Register,
) -> None:
    _submit(register, "A1")
    register.append(EventType.BLANK_RECEIVED, {"count": 1, "reference": "BA-1"})
    register.append(EventType.BLANK_FED, {"printer": "card_printer"}, application_id="A1")
    register.append(
        EventType.BLANK_SPOILED,
        {"reason": "interrupted", "detail": "station restarted mid-encode", "card_serial": "K9"},
        application_id="A1",
    )
    assert register.open_cards() == []
    row = sqlite3.connect(register.path).execute(
        "SELECT state, spoil_reason, card_serial FROM cards"
    )
    assert row.fetchall() == [("spoiled", "interrupted", "K9")]
    assert register.blank_stock().stock == 0


def test_a_feed_that_took_no_card_leaves_the_blank_in_stock(register: Register) -> None:
    _submit(register, "A1")
    register.append(EventType.BLANK_RECEIVED, {"count": 1, "reference": "BA-1"})
    register.append(EventType.BLANK_FED, {"printer": "card_printer"}, application_id="A1")
    register.append(EventType.BLANK_FEED_FAILED, {"detail": "hopper empty"}, application_id="A1")
    assert register.open_cards() == []
    stock = register.blank_stock()
    assert (stock.stock, stock.available) == (1, 1)
    register.append(EventType.BLANK_FED, {"printer": "card_printer"}, application_id="A1")
    register.append(
        EventType.CARD_PERSONALISED, {"card_serial": "K1", **PERSONALISED}, application_id="A1"
    )
    with pytest.raises(InvalidEvent, match="no card just fed"):  # that card is in the chip stage
        register.append(EventType.BLANK_FEED_FAILED, {}, application_id="A1")


def test_an_application_cannot_hold_two_cards_at_once(register: Register) -> None:
    _submit(register, "A1")
    register.append(EventType.BLANK_RECEIVED, {"count": 5, "reference": "BA-1"})
    register.append(EventType.BLANK_FED, {"printer": "card_printer"}, application_id="A1")
    with pytest.raises(InvalidEvent, match="already has a card"):
        register.append(EventType.BLANK_FED, {"printer": "card_printer"}, application_id="A1")


def test_a_card_cannot_change_serial_or_skip_a_state(register: Register) -> None:
    _submit(register, "A1")
    register.append(EventType.BLANK_RECEIVED, {"count": 1, "reference": "BA-1"})
    register.append(EventType.BLANK_FED, {"printer": "card_printer"}, application_id="A1")
    with pytest.raises(InvalidEvent, match="state personalised"):
        register.append(EventType.CARD_PRINTED, {"card_serial": "K1"}, application_id="A1")
    register.append(
        EventType.CARD_PERSONALISED, {"card_serial": "K1", **PERSONALISED}, application_id="A1"
    )
    with pytest.raises(InvalidEvent, match="no card K2"):
        register.append(EventType.CARD_PRINTED, {"card_serial": "K2"}, application_id="A1")
    with pytest.raises(InvalidEvent, match="not a printed card"):
        register.append(EventType.BLANK_ISSUED, {"card_serial": "K1"}, application_id="A1")


def test_without_a_blank_the_application_waits_and_a_fed_blank_resumes_it(
    register: Register,
) -> None:
    _submit(register, "A1")
    register.append(EventType.BLANK_RECEIVED, {"count": 1, "reference": "BA-1"})
    register.append(EventType.BLANK_FED, {"printer": "card_printer"}, application_id="A1")
    _submit(register, "A2")
    with pytest.raises(InvalidEvent, match="no blank card"):  # the only blank is A1's
        register.append(EventType.BLANK_FED, {"printer": "card_printer"}, application_id="A2")
    register.append(EventType.SURAT_KETERANGAN_ISSUED, {"number": "SK-1"}, application_id="A2")
    waiting = register.application("A2")
    assert waiting is not None
    assert waiting.state == "waiting_blank"
    register.append(EventType.BLANK_RECEIVED, {"count": 1, "reference": "BA-2"})
    register.append(EventType.BLANK_FED, {"printer": "card_printer"}, application_id="A2")
    resumed = register.application("A2")
    assert resumed is not None
    assert resumed.state == "in_progress"


def test_an_older_register_gains_the_card_table_by_replaying_its_events(
    register_path: Path, station_key: StationKey, clock: ManualClock
) -> None:
    with Register.open(register_path, station_id="lumajang-01", key=station_key, clock=clock) as r:
        _submit(r, "A1")
        r.append(EventType.BLANK_RECEIVED, {"count": 3, "reference": "BA-1"})
        r.append(EventType.BLANK_FED, {"printer": "card_printer"}, application_id="A1")
    # Take the file back to schema v1 as the previous release left it: no cards table.
    conn = sqlite3.connect(register_path)
    conn.execute("DROP TABLE cards")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    with Register.open(register_path, station_id="lumajang-01", key=station_key, clock=clock) as r:
        assert [card.application_id for card in r.open_cards()] == ["A1"]
        assert r.blank_stock().available == 2
        assert verify_register(r.path, station_key.public_key).ok


# One step of an office's card work; hypothesis picks the sequence.
_ACTIONS = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "receive",
                "feed",
                "feed_failed",
                "personalise",
                "print",
                "activate",
                "spoil",
                "stockroom",
            ]
        ),
        st.integers(0, 3),
    ),
    max_size=40,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(actions=_ACTIONS)
def test_whatever_happens_the_stock_adds_up_and_replays(
    tmp_path_factory: pytest.TempPathFactory, station_key: StationKey, actions: list[Any]
) -> None:
    path = tmp_path_factory.mktemp("cards") / "register.sqlite3"
    events: dict[str, tuple[EventType, dict[str, Any]]] = {
        "receive": (EventType.BLANK_RECEIVED, {"count": 2, "reference": "BA"}),
        "feed": (EventType.BLANK_FED, {"printer": "card_printer"}),
        "feed_failed": (EventType.BLANK_FEED_FAILED, {}),
        "spoil": (EventType.BLANK_SPOILED, {"reason": "jam"}),
        "stockroom": (EventType.BLANK_SPOILED, {"reason": "jam"}),
    }
    with Register.open(path, station_id="s", key=station_key, clock=ManualClock()) as register:
        for app in "0123":
            _submit(register, app)
        for action, which in actions:
            app = str(which)
            serial = f"K{app}"
            data: tuple[EventType, dict[str, Any]] = {
                **events,
                "personalise": (
                    EventType.CARD_PERSONALISED,
                    {"card_serial": serial, **PERSONALISED},
                ),
                "print": (EventType.CARD_PRINTED, {"card_serial": serial}),
                "activate": (EventType.BLANK_ISSUED, {"card_serial": serial}),
            }[action]
            # A refused event writes nothing; the invariants must hold either way.
            with contextlib.suppress(InvalidEvent):
                register.append(
                    data[0],
                    data[1],
                    application_id=None if action in ("receive", "stockroom") else app,
                )
            stock = register.blank_stock()
            assert stock.stock == stock.received - stock.issued - stock.spoiled >= 0
            assert stock.in_process == len(register.open_cards())
            assert 0 <= stock.available <= stock.stock
        assert verify_register(path, station_key.public_key).ok
