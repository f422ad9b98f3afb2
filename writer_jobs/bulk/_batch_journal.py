"""A batch run's journal: what was sent for each row, flushed a line at a time, so a run
started again (the same command) knows every job it made and every request it may have.

JSON lines: a header naming the application, the API and the input, then per row:

- ``creating`` (``sent_after``: the server's job clock was at least this when the POST
  went out; ``job_clock``: that bound is the job clock's, not Date's; ``at``: the
  client's wall clock; ``clock_ahead``: the job clock was at most this far ahead of the
  wall clock, when answers told), written and flushed before the create is sent;
- ``created`` (``job_id``, ``created_at``) once its answer came;
- ``proved``: a lost create settled from the job list (``made`` with the job,
  ``not_made``, or ``unresolved`` with its candidates); a job proved made is
  ``unresolved`` again when the run's last look at the list shows another program
  creating jobs (``_batch_proof.foreign``);
- ``retrying`` (the job's ``updated_at`` before the retry, and the server's clock),
  before a retry's POST, and ``retried`` once it is accepted;

and, each second a run is answered, a ``sent`` line (``_sent``): a run started again at
once counts those requests as its own in the account's window.

A row's record in the results file ends it. A ``creating`` line with nothing after it
is a create whose answer was lost (a crash, or the run stopped): the next run settles
it from the job list before sending anything.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import IO, Any
from uuid import UUID

import attrs

from .._exceptions import InvalidArgumentError, RunInProgressError
from ._batch_proof import DRIFT, LostCreate, window_start
from ._journal import Resume, _try_lock
from ._sent import SentLines

BATCH_JOURNAL_FORMAT = 1


@attrs.define
class RowState:
    """What the journal knows of a row without its result yet."""

    row: int
    #: The row's job (created, or proved made), and its created_at (epoch seconds).
    job_id: UUID | None = None
    created_at: float | None = None
    #: Runs of the job: 1 once created, one more per retry accepted (or maybe sent).
    attempts: int = 0
    #: A create sent with no answer or proof since: the moment it went out, at least.
    lost: float | None = None
    #: Proved to have made no job: to be created again.
    not_made: bool = False
    #: A retry was sent (or about to be) and not known to be accepted.
    retrying: Resume | None = None
    #: The job's updated_at before its last accepted retry (the watcher's baseline).
    retried_from: float | None = None
    #: The job was proved made (a lost create's): its result waits for the run's last
    #: look at the list (another program's jobs there make it unresolved).
    adopted: bool = False
    #: Proved unresolved: the jobs its lost create may have made.
    unresolved: tuple[UUID, ...] | None = None
    #: Of the lost create: ``lost`` is the job clock (not Date's), and the client's wall
    #: clock when it was sent (None: unknown, an older journal).
    lost_job_clock: bool = False
    lost_at: float | None = None
    #: ... and how far the job clock was ahead of the wall clock, at most (None: unknown).
    lost_ahead: float | None = None
    #: The row's digest (``Row.digest``) when its create was first sent (None: an older
    #: journal).
    digest: str | None = None


class BatchJournal:
    """The journal file of one batch (``None``: a run that keeps none)."""

    def __init__(
        self,
        path: str | os.PathLike[str] | None,
        *,
        application_id: str,
        base_url: str,
        input_fingerprint: str | None,
        key: str | None,
    ) -> None:
        self.path = None if path is None else Path(path)
        #: Rows with something in the journal, by number.
        self.rows: dict[int, RowState] = {}
        #: Every job this journal's runs made (answered, or proved): claimed by its row.
        self.claimed: set[UUID] = set()
        #: Jobs an unresolved create may have made: never given to another row.
        self.maybe_claimed: set[UUID] = set()
        #: The oldest created_at a job of any run of this journal can have (the first
        #: create's window; None: nothing created yet).
        self.began: float | None = None
        #: Its ``sent`` lines: those of the account's window read, this run's written.
        self.sent = SentLines(self._write_line)
        self._file: IO[str] | None = None
        if self.path is None:
            return
        header = {
            "event": "batch",
            "format": BATCH_JOURNAL_FORMAT,
            "application_id": application_id,
            "base_url": base_url,
            "input": input_fingerprint,
            "key": key,
        }
        try:
            f = self.path.open("a+", encoding="utf-8", errors="replace")
        except OSError as exc:
            raise InvalidArgumentError(
                f"journal {str(self.path)!r} cannot be opened: {exc}"
            ) from None
        try:
            if not _try_lock(f):
                raise RunInProgressError(
                    f"journal {str(self.path)!r} is in use by another running batch; wait for it "
                    "to finish or stop it",
                    holder={"journal": str(self.path)},
                )
            f.seek(0)
            if f.read(1):
                f.seek(0)
                self._load(f, header)
            else:
                f.write(json.dumps(header) + "\n")
                f.flush()
        except BaseException:
            f.close()
            raise
        self._file = f

    def _load(self, f: IO[str], header: dict[str, Any]) -> None:
        lines = iter(f)
        first = next(lines, "")
        try:
            theirs = json.loads(first)
        except ValueError:
            theirs = None
        if not isinstance(theirs, dict) or theirs.get("event") != "batch":
            raise InvalidArgumentError(
                f"journal {str(self.path)!r} is not a writer-jobs batch journal: its first line "
                f"is {first[:80]!r}"
            )
        for name in ("application_id", "base_url", "key"):
            if theirs.get(name) != header[name]:
                raise InvalidArgumentError(
                    f"journal {str(self.path)!r} is of a batch with {name} "
                    f"{theirs.get(name)!r}, not {header[name]!r}: run the same command as "
                    "before, or give new results (a new batch)"
                )
        if header["input"] is not None and theirs.get("input") not in (None, header["input"]):
            raise InvalidArgumentError(
                f"journal {str(self.path)!r}: the input changed since its batch began (rows are "
                "joined by their number): restore the input, or give new results (a new batch)"
            )
        last = ""
        for last in lines:
            self._read(last)
        if last and not last.endswith("\n"):
            f.write("\n")  # a line cut by a crash: end it, so the next starts clean
            f.flush()

    def _read(self, line: str) -> None:
        try:
            entry = json.loads(line)
            if self.sent.read(entry):
                return
            event = entry["event"]
            number = entry["row"]
        except (ValueError, KeyError, TypeError):
            return  # a line cut by a crash
        if not isinstance(number, int):
            return
        state = self.rows.setdefault(number, RowState(number))
        try:
            self.apply(state, event, entry)
        except (ValueError, KeyError, TypeError):
            return

    @staticmethod
    def _job(entry: dict[str, Any]) -> UUID:
        return UUID(str(entry["job_id"]))

    def apply(self, state: RowState, event: str, entry: dict[str, Any]) -> None:
        """Fold one journal entry into the row's state (reading, and as it is written)."""
        if event == "creating":
            state.lost = _number(entry.get("sent_after"))
            if state.lost is None:
                state.lost = float("-inf")  # no clock seen: every job may be its
            state.lost_job_clock = entry.get("job_clock") is True
            state.lost_at = _number(entry.get("at"))
            state.lost_ahead = _number(entry.get("clock_ahead"))
            state.not_made, state.unresolved = False, None
            digest = entry.get("digest")
            state.digest = digest if isinstance(digest, str) else state.digest
            start = window_start(LostCreate(state.row, state.lost, job_clock=state.lost_job_clock))
            self.began = start if self.began is None else min(self.began, start)
        elif event == "created":
            state.job_id, state.created_at = self._job(entry), _number(entry.get("created_at"))
            state.lost, state.attempts = None, 1
            self.claimed.add(state.job_id)
        elif event == "proved":
            state.lost = None
            if entry.get("verdict") == "made":
                state.job_id = self._job(entry)
                state.created_at = _number(entry.get("created_at"))
                state.attempts = 1
                state.adopted = True
                self.claimed.add(state.job_id)
            elif entry.get("verdict") == "not_made":
                state.not_made = True
            elif entry.get("verdict") == "unresolved":
                state.unresolved = tuple(UUID(str(c)) for c in entry.get("candidates", []))
                self.maybe_claimed.update(state.unresolved)
                if state.job_id is not None:  # a job proved made, no longer (see above)
                    self.claimed.discard(state.job_id)
                    state.job_id, state.created_at, state.attempts = None, None, 0
                    state.adopted, state.retrying = False, None
        elif event == "retrying":
            state.retrying = Resume(
                _number(entry.get("listed_updated_at")), _number(entry.get("server_at_least"))
            )
            state.attempts = int(entry["attempt"]) - 1
        elif event == "retried":
            state.retrying = None
            state.attempts = int(entry["attempt"])
            state.retried_from = _number(entry.get("updated_before"))

    def write(self, state: RowState, event: str, **fields: Any) -> None:
        """Append one line (flushed) and fold it into the row's state."""
        entry = {"event": event, "row": state.row, **fields}
        self.apply(state, event, entry)
        self._write_line(entry)

    def _write_line(self, entry: dict[str, Any]) -> None:
        """Append one line and flush it; after close() nothing more is written."""
        if self._file is not None:
            self._file.write(json.dumps(entry, separators=(",", ":")) + "\n")
            self._file.flush()

    def lost_creates(self, wait: float, now: float) -> list[LostCreate]:
        """The creates an earlier run left without an answer or a proof. A window is
        tight when the proof's list (read ``wait`` seconds after the create went out, the
        settle bound) is no later than a live proof's: the crash cost no unknown time.
        ``now`` is the wall clock as this run started: the POST ended by then (its run was
        gone), so a job stamped after it, by the job clock's bound, is not one made while
        it was out (as in a live run: never taken)."""
        return [
            LostCreate(
                s.row,
                s.lost,
                job_clock=s.lost_job_clock,
                tight=s.lost_at is not None and now <= s.lost_at + wait,
                made_by=float("inf") if s.lost_ahead is None else now + s.lost_ahead + DRIFT,
            )
            for s in self.rows.values()
            if s.lost is not None
        ]

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
