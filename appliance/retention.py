"""The biometric retention policy: captures are destroyed `retention_days` after their
application ended, and the register says so, in counts.

An application ends when its card, activated by the applicant's fingerprint, is handed
over (`application.completed`), or when its file is returned (`application.returned`,
normally before any capture). The register is the source of truth for when, by the
station clock's wall time; an application the register shows open, or does not know,
keeps everything. docs/biometrics.md says why these are the rules.

The daemon runs `RetentionPurge.run`: a purge at start, then one a day, on the station's
injectable clock. One purge:

1. takes into account the register's purge reports that the biometric store has not
   acknowledged yet (a station that died between the two steps of 3);
2. purges each due application in the store's own transaction, which also adds its
   counts to the store's tally of purges not yet reported;
3. appends one `biometrics.purged` event with the tally (counts only, never whose), then
   acknowledges it in the store.

A SIGKILL anywhere loses nothing that should be kept (only due applications are touched,
each atomically) and leaves nothing unaccounted: what was destroyed is either in the
tally, reported by the next purge, or in the register, found again by step 1.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from appliance.logs import get_logger
from appliance.register import EventType, format_ts

if TYPE_CHECKING:
    from collections.abc import Mapping

    from appliance.biostore import BiometricStore
    from appliance.clock import Clock, Timekeeper
    from appliance.register import Register

log = get_logger(__name__)

DAY_S: Final = 86_400
_NS: Final = 1_000_000_000


@dataclass(frozen=True, slots=True)
class PurgeOutcome:
    """What one purge destroyed, and what it reported to the register (which includes
    what an interrupted earlier purge had destroyed)."""

    applications: int
    blobs: int
    reported_applications: int
    reported_blobs: int


def retention_cutoff(clock: Clock, retention_days: int) -> str:
    """The register timestamp before which an ended application is due for the purge."""
    return format_ts(clock.wall_ns() - retention_days * DAY_S * _NS)


def due_applications(endings: Mapping[str, str], cutoff: str) -> list[str]:
    """The applications that ended before `cutoff`: the one home of the rule.

    Both are the register's fixed-width UTC timestamps, so text order is time order.
    """
    return sorted(app for app, ended in endings.items() if ended < cutoff)


class RetentionPurge:
    """Purges biometric captures whose retention has run out; see the module docstring."""

    def __init__(
        self,
        *,
        register: Register,
        biostore: BiometricStore,
        clock: Timekeeper,
        retention_days: int,
        interval_s: float = DAY_S,
    ) -> None:
        self._register = register
        self._biostore = biostore
        self._clock = clock
        self._retention_days = retention_days
        self._interval_s = interval_s

    async def run(self) -> None:
        """Purge now, then every `interval_s` of the station clock, until cancelled.

        A failed purge (a full disk, say) is logged and tried again at the next turn:
        it must not stop the station, and the captures wait safely meanwhile.
        """
        while True:
            try:
                await asyncio.to_thread(self.purge)
            except Exception:
                log.exception("biometric_purge_failed")
            await self._clock.sleep(self._interval_s)

    def purge(self) -> PurgeOutcome:
        """One purge (blocking: run it on a worker thread)."""
        self._take_in_reports()
        cutoff = retention_cutoff(self._clock, self._retention_days)
        endings = self._register.application_endings(self._biostore.application_ids())
        applications = blobs = 0
        for application_id in due_applications(endings, cutoff):
            blobs += self._biostore.purge(application_id)
            applications += 1
        tally = self._biostore.purge_tally()
        if tally.applications:
            event = self._register.append(
                EventType.BIOMETRICS_PURGED,
                {
                    "applications": tally.applications,
                    "blobs": tally.blobs,
                    "retention_days": self._retention_days,
                },
            )
            self._biostore.acknowledge_purges(
                through_seq=event.seq, applications=tally.applications, blobs=tally.blobs
            )
        outcome = PurgeOutcome(applications, blobs, tally.applications, tally.blobs)
        log.info(
            "biometric_purge_done",
            applications=applications,
            blobs=blobs,
            reported_applications=tally.applications,
            retention_days=self._retention_days,
        )
        return outcome

    def _take_in_reports(self) -> None:
        """Acknowledge in the store the register's reports it missed; a store that never
        saw a report starts from the register's head (its tally is empty then)."""
        reported_seq = self._biostore.purge_tally().reported_seq
        if reported_seq is None:
            head, _ = self._register.head()
            self._biostore.acknowledge_purges(through_seq=head, applications=0, blobs=0)
            return
        reports = self._register.purge_reports(after=reported_seq)
        if reports:
            self._biostore.acknowledge_purges(
                through_seq=reports[-1].seq,
                applications=sum(report.applications for report in reports),
                blobs=sum(report.blobs for report in reports),
            )


__all__ = ["DAY_S", "PurgeOutcome", "RetentionPurge", "due_applications", "retention_cutoff"]
