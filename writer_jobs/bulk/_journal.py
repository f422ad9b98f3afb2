"""What makes a bulk run resumable and exclusive: its journal file and its run lock.

A journal is JSON lines: a first line naming the run target, then per job a ``started``
line flushed before its first request and an ``outcome`` line after; and, each second
a run is answered, a ``sent`` line (``_sent``) that a resume counts as its own in the
account's window. The run lock is an
advisory ``flock`` (the kernel releases it when the process dies: a killed run never
leaves it stuck) on a file per (API, application) in a per-user folder under /tmp (not
$TMPDIR, which differs between shells and would let two runs miss each other).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import socket
import stat
import sys
from pathlib import Path
from typing import IO, Any
from uuid import UUID

import attrs
import httpx

from .._config import api_host
from .._exceptions import InvalidArgumentError, RunInProgressError
from ._sent import SentLines

JOURNAL_FORMAT = 1


@attrs.frozen
class Resume:
    """What the journal says of a job an earlier run started but did not finish."""

    #: The job's updated_at before that run's trigger (server clock, epoch seconds;
    #: ``listed_updated_at`` in the journal).
    updated_before: float | None
    #: A lower bound of the server's clock when the started line was written.
    server_at_least: float | None


def _try_lock(f: IO[Any]) -> bool:
    """Take an exclusive lock on an open file without waiting; False if it is held."""
    if sys.platform == "win32":
        import msvcrt

        # msvcrt locks bytes from the file position, and an "a+" file opens at its end:
        # every process must lock the same byte, 0, however long the file has grown.
        f.seek(0)
        try:
            msvcrt.locking(f.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _lock_folder() -> Path:
    """This user's lock folder, made if need be: one fixed place per machine, whatever
    $TMPDIR says."""
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home())
        folder = Path(base) / "writer-jobs" / "locks"
    else:
        folder = Path("/tmp") / f"writer-jobs-{os.getuid()}"  # noqa: S108 - per user, checked
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if sys.platform != "win32":
        info = folder.lstat()
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            raise InvalidArgumentError(
                f"the run lock folder {str(folder)!r} is not a folder of this user: "
                "remove it and run again"
            )
    return folder


def run_target(base_url: str) -> str:
    """The API a base URL names, spelled one way (``api_host``; the default port explicit)."""
    url = httpx.URL(base_url)
    port = url.port or {"http": 80, "https": 443}.get(url.scheme)
    return f"{url.scheme}://{api_host(url.host)}:{port}{url.path.rstrip('/')}"


class RunLock:
    """One bulk run (retry_failed or batch) per (base URL, application) on this machine
    at a time. ``kind`` names the run in the message a second one is refused with;
    ``journal``: the file that keeps its place (None: none)."""

    def __init__(
        self,
        base_url: str,
        application_id: str,
        journal: Path | None,
        *,
        kind: str = "retry-failed",
    ) -> None:
        target = f"{run_target(base_url)}\n{application_id}"
        key = hashlib.sha256(target.encode()).hexdigest()[:32]
        self.path = _lock_folder() / f"{key}.lock"
        self._file: IO[str] | None = self.path.open("a+", encoding="utf-8")
        if not _try_lock(self._file):
            self._file.seek(0)
            try:  # only for the message: unreadable (a Windows lock) or odd is fine
                holder = json.loads(self._file.read() or "{}")
            except (ValueError, OSError):
                holder = {}
            if not isinstance(holder, dict):
                holder = {}
            self._file.close()
            self._file = None
            theirs = holder.get("kind")
            running = f"another {theirs} run" if isinstance(theirs, str) else "another run"
            raise RunInProgressError(
                f"{running} is working on application {application_id!r} at {base_url} "
                f"(pid {holder.get('pid', '?')} on {holder.get('host', '?')}, started "
                f"{holder.get('started', '?')}, journal {holder.get('journal')}); wait "
                f"for it to finish or stop it, then run this {kind} again (lock file "
                f"{self.path})",
                holder=holder,
            )
        self._file.seek(0)
        self._file.truncate()
        holder = {
            "kind": kind,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "application_id": application_id,
            "base_url": base_url,
            "journal": None if journal is None else str(journal.resolve()),
        }
        self._file.write(json.dumps(holder))
        self._file.flush()

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing the file releases the lock
            self._file = None


def _check_path(path: Path) -> None:
    """Refuse, before any request, a journal path that cannot be one."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        parent = path.parent
        if not parent.is_dir():
            raise InvalidArgumentError(
                f"journal {str(path)!r}: the folder {str(parent)!r} does not exist"
            ) from None
        if not os.access(parent, os.W_OK):
            raise InvalidArgumentError(
                f"journal {str(path)!r}: the folder {str(parent)!r} is not writable"
            ) from None
        return
    except OSError as exc:
        raise InvalidArgumentError(f"journal {str(path)!r} cannot be read: {exc}") from None
    if stat.S_ISDIR(mode):
        raise InvalidArgumentError(
            f"journal {str(path)!r} is a directory; give a file path, "
            f"e.g. {str(path / 'run.jsonl')!r}"
        )
    if not stat.S_ISREG(mode):
        raise InvalidArgumentError(
            f"journal {str(path)!r} is not a regular file (a device, FIFO or socket)"
        )
    if not os.access(path, os.R_OK | os.W_OK):
        raise InvalidArgumentError(f"journal {str(path)!r} is not readable and writable")


class Journal:
    """An append-only JSON-lines record of runs against one target, flushed per line.

    On opening, jobs with a final outcome are skipped by the new run, and jobs that
    were started (or errored, or whose line was cut by a crash) are checked with a
    GET before any retry. Reading streams the file, a line at a time.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None,
        *,
        application_id: str,
        base_url: str,
        selection: dict[str, Any] | None = None,
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.final: set[UUID] = set()
        self.unsettled: dict[UUID, Resume] = {}
        self.cut_lines = 0
        #: Its ``sent`` lines: those of the account's window read, this run's written.
        self.sent = SentLines(self.write)
        #: The run's selection: the one given, or the one this journal's runs used.
        self.selection = selection
        self._file: IO[str] | None = None
        if self.path is None:
            return
        _check_path(self.path)
        target = {"application_id": application_id, "base_url": base_url}
        try:
            f = self.path.open("a+", encoding="utf-8", errors="replace")
        except OSError as exc:
            raise InvalidArgumentError(
                f"journal {str(self.path)!r} cannot be opened: {exc}"
            ) from None
        try:
            if not _try_lock(f):
                raise RunInProgressError(
                    f"journal {str(self.path)!r} is in use by another running retry-failed; "
                    "give this run its own journal or wait for that one to finish",
                    holder={"journal": str(self.path)},
                )
            f.seek(0)
            if f.read(1):
                f.seek(0)
                self._load(f, target)
            else:
                header = {"event": "journal", "format": JOURNAL_FORMAT, **target}
                if selection:
                    header["selection"] = selection
                f.write(json.dumps(header) + "\n")
                f.flush()
        except BaseException:
            f.close()
            raise
        self._file = f

    def _load(self, f: IO[str], target: dict[str, str]) -> None:
        lines = iter(f)
        header_line = next(lines, "")
        try:
            header = json.loads(header_line)
        except ValueError:
            header = None
        if not isinstance(header, dict) or header.get("event") != "journal":
            raise InvalidArgumentError(
                f"journal {str(self.path)!r} is not a writer-jobs journal: its first line is "
                f"{header_line[:80]!r}; give a new path or the journal of an earlier run"
            )
        theirs = {k: header.get(k) for k in target}
        if theirs != target:
            raise InvalidArgumentError(
                f"journal {str(self.path)!r} belongs to application "
                f"{theirs['application_id']!r} at {theirs['base_url']}, not "
                f"{target['application_id']!r} at {target['base_url']}; "
                "give this run its own journal"
            )
        recorded = header.get("selection") or None
        if self.selection and recorded != self.selection:
            raise InvalidArgumentError(
                f"journal {str(self.path)!r} was started with the selection {recorded}, not "
                f"{self.selection}: a resume keeps its selection (pass none, or use a new "
                "journal)"
            )
        self.selection = recorded
        last = ""
        for last in lines:
            self._read_line(last)
        if last and not last.endswith("\n"):
            # A line cut by a crash: end it, so the next line starts clean.
            f.write("\n")
            f.flush()

    def _read_line(self, line: str) -> None:
        if not line.strip():
            return
        try:
            entry = json.loads(line)
            if self.sent.read(entry):
                return
            raw_id = entry["job_id"]
            event = entry["event"]
            if not isinstance(raw_id, str):
                raise TypeError(raw_id)
            job_id = UUID(raw_id)
        except (ValueError, KeyError, TypeError):
            self.cut_lines += 1
            return
        if event == "started":
            self.final.discard(job_id)
            self.unsettled[job_id] = Resume(
                _number(entry.get("listed_updated_at")), _number(entry.get("server_at_least"))
            )
        elif event == "outcome" and entry.get("final") is True:
            self.final.add(job_id)
            self.unsettled.pop(job_id, None)
        elif event != "outcome":
            self.cut_lines += 1

    def write(self, entry: dict[str, Any]) -> None:
        """Append one line and flush it; after close() nothing more is written."""
        if self._file is not None:
            self._file.write(json.dumps(entry, separators=(",", ":")) + "\n")
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
