"""The derived tables: their schema, which follows the workflow's states, and the few
fixed queries that read across them.

The CHECK constraints are written from the workflow's enums, so a state the workflow does
not know cannot be stored, and a state is spelled only in `appliance.domain`.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Final

from appliance.domain import (
    IN_PROCESS_CARD_STATES,
    ApplicationState,
    CardState,
    ComplaintState,
    Phase,
    RecapState,
    TicketState,
)


def sql_values(values: Iterable[StrEnum]) -> str:
    """`('a', 'b')` for an IN clause or a CHECK: enum values are fixed identifiers, never
    input, so they may be written into the SQL text."""
    return "(" + ", ".join(f"'{value.value}'" for value in sorted(values)) + ")"


IN_PROCESS_CARDS: Final = sql_values(IN_PROCESS_CARD_STATES)

DERIVED_TABLES_DDL: Final = (
    # One row per application: where it stands in the SOP. `phase` is the step's own
    # state: waiting for its person and devices, active (given to them), or finished.
    f"""CREATE TABLE applications (
        application_id TEXT PRIMARY KEY,
        service TEXT NOT NULL,
        nik TEXT NOT NULL,
        name TEXT NOT NULL,
        ticket TEXT,
        ticket_day TEXT,
        step TEXT NOT NULL,
        phase TEXT NOT NULL CHECK (phase IN {sql_values(Phase)}),
        state TEXT NOT NULL CHECK (state IN {sql_values(ApplicationState)}),
        active_by TEXT,
        active_devices TEXT NOT NULL,
        phase_seq INTEGER NOT NULL,
        breaches INTEGER NOT NULL,
        overdue INTEGER NOT NULL,
        return_reason TEXT,
        submitted_seq INTEGER NOT NULL,
        updated_seq INTEGER NOT NULL
    ) STRICT""",
    "CREATE INDEX applications_by_state ON applications (state, step)",
    f"""CREATE TABLE queue (
        day TEXT NOT NULL,
        ticket TEXT NOT NULL,
        service TEXT NOT NULL,
        number INTEGER NOT NULL,
        state TEXT NOT NULL CHECK (state IN {sql_values(TicketState)}),
        counter TEXT,
        calls INTEGER NOT NULL,
        application_id TEXT,
        issued_seq INTEGER NOT NULL,
        called_seq INTEGER,
        updated_seq INTEGER NOT NULL,
        PRIMARY KEY (day, ticket)
    ) STRICT""",
    """CREATE TABLE blank_stock (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        received INTEGER NOT NULL,
        issued INTEGER NOT NULL,
        spoiled INTEGER NOT NULL,
        updated_seq INTEGER NOT NULL,
        CHECK (received - issued - spoiled >= 0)
    ) STRICT""",
    "INSERT INTO blank_stock VALUES (1, 0, 0, 0, 0)",
    # Every blank that left the hopper, from the moment it was fed until it is issued or
    # spoiled: a card can always be found here, whatever happened to the station.
    f"""CREATE TABLE cards (
        fed_seq INTEGER PRIMARY KEY,
        application_id TEXT NOT NULL,
        printer TEXT NOT NULL,
        card_serial TEXT,
        state TEXT NOT NULL CHECK (state IN {sql_values(CardState)}),
        spoil_reason TEXT,
        updated_seq INTEGER NOT NULL
    ) STRICT""",
    (
        "CREATE UNIQUE INDEX cards_one_open_per_application ON cards (application_id) "
        f"WHERE state IN {IN_PROCESS_CARDS}"
    ),
    # What the retention policy has destroyed so far, in counts: the register says that
    # the purge ran, and how much it took, never whose data it was.
    """CREATE TABLE biometric_purges (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        purges INTEGER NOT NULL,
        applications INTEGER NOT NULL,
        blobs INTEGER NOT NULL,
        updated_seq INTEGER NOT NULL
    ) STRICT""",
    "INSERT INTO biometric_purges VALUES (1, 0, 0, 0, 0)",
    # The survey's responses so far, per service type: counts only, never whose.
    """CREATE TABLE survey_responses (
        service TEXT PRIMARY KEY,
        keypad INTEGER NOT NULL,
        questionnaires INTEGER NOT NULL,
        updated_seq INTEGER NOT NULL
    ) STRICT""",
    # The complaint book: where each complaint stands, its deadline and escalation.
    f"""CREATE TABLE complaints (
        number TEXT PRIMARY KEY,
        channel TEXT NOT NULL,
        category TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN {sql_values(ComplaintState)}),
        due TEXT NOT NULL,
        escalated INTEGER NOT NULL,
        followups INTEGER NOT NULL,
        contact_ref TEXT,
        received_seq INTEGER NOT NULL,
        updated_seq INTEGER NOT NULL
    ) STRICT""",
    "CREATE INDEX complaints_by_state ON complaints (state)",
    f"""CREATE TABLE recaps (
        period TEXT PRIMARY KEY,
        state TEXT NOT NULL CHECK (state IN {sql_values(RecapState)}),
        version INTEGER NOT NULL,
        version_seq INTEGER NOT NULL,
        updated_seq INTEGER NOT NULL
    ) STRICT""",
)


DERIVED_TABLES: Final = (
    ("applications", "application_id"),
    ("queue", "day, ticket"),
    ("blank_stock", "id"),
    ("cards", "fed_seq"),
    ("biometric_purges", "id"),
    ("survey_responses", "service"),
    ("complaints", "number"),
    ("recaps", "period"),
)

# The highest seq any derived row records. Every event type but the genesis changes
# derived state (a test pins it), so this is the seq of the newest such event: an anchor
# for the register's tail.
LAST_SEQ_IN_DERIVED_STATE: Final = """
    SELECT max(seq) FROM (
        SELECT max(updated_seq) AS seq FROM applications
        UNION ALL SELECT max(updated_seq) FROM blank_stock
        UNION ALL SELECT max(updated_seq) FROM cards
        UNION ALL SELECT max(updated_seq) FROM queue
        UNION ALL SELECT max(updated_seq) FROM biometric_purges
        UNION ALL SELECT max(updated_seq) FROM survey_responses
        UNION ALL SELECT max(updated_seq) FROM complaints
        UNION ALL SELECT max(updated_seq) FROM recaps
    )"""

STOCK_QUERY: Final = (
    "SELECT received, issued, spoiled, (SELECT count(*) FROM cards WHERE state IN "  # noqa: S608 - enum literals
    f"{IN_PROCESS_CARDS}) FROM blank_stock WHERE id = 1"
)
