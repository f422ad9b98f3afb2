"""A batch's rows in and results out: CSV and JSONL files, read and written a line at a time.

Input, by the file's extension (``.csv``; anything else is read as JSON lines):

- CSV: a header row of input names, then a row per job. An input that takes several
  values is a column repeated in the header (``tags,tags,tags``): each non-empty cell
  under it is one value. A single column's cell is its value, even empty.
- JSONL: one JSON object per line, ``{"name": "value"}`` or ``{"name": ["v1", "v2"]}``;
  blank lines are skipped.

With a key column (``key``), its value names the row in the results and is not sent as
an input; keys must be unique. Rows are numbered from 1 in the order they come (the
results' ``row``); each carries its line number for messages.

Results: one record per input row, JSON lines, or CSV when the path ends in ``.csv``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any
from uuid import UUID

import attrs

from .._exceptions import InvalidArgumentError
from .._validation import MAX_INPUT_NAME_LENGTH, shorten

#: Problems listed at most in the error raised for a file with bad rows.
SHOW_PROBLEMS = 20


@attrs.frozen
class Row:
    """One input row: its number (from 1), the line it starts on, its inputs and key."""

    number: int
    line: int
    inputs: dict[str, list[str]]
    key: str | None = None

    def digest(self) -> str:
        """A short hash of the row's inputs (and key): the journal keeps it, so a run
        started again knows its row ``number`` is the same row."""
        text = json.dumps([self.inputs, self.key], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@attrs.frozen
class BadRow:
    """A row that cannot be sent: where it is and what is wrong with it."""

    number: int
    line: int
    reason: str
    key: str | None = None


def _is_csv(path: Path) -> bool:
    return path.suffix.lower() == ".csv"


def row_from_mapping(number: int, line: int, value: object, key: str | None) -> Row | BadRow:
    """A row from a mapping of input name to a str or a list of str (the library's rows
    and JSON lines)."""
    if not isinstance(value, Mapping):
        return BadRow(number, line, f"a row must be an object of inputs, received {shorten(value)}")
    inputs: dict[str, list[str]] = {}
    row_key: str | None = None
    for name, raw in value.items():
        if key is not None and name == key:
            if not isinstance(raw, str | int) or isinstance(raw, bool) or str(raw) == "":
                return BadRow(
                    number, line, f"key {key!r} must be a non-empty str, received {shorten(raw)}"
                )
            row_key = str(raw)
            continue
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_INPUT_NAME_LENGTH:
            return BadRow(number, line, f"input name {shorten(name)} is not a non-empty str")
        if isinstance(raw, str):
            inputs[name] = [raw]
        elif isinstance(raw, Sequence) and not isinstance(raw, bytes | bytearray):
            if not all(isinstance(item, str) for item in raw):
                return BadRow(
                    number,
                    line,
                    f"input {name!r} must be a str or a list of str, received {shorten(raw)}",
                )
            inputs[name] = list(raw)
        else:
            return BadRow(
                number,
                line,
                f"input {name!r} must be a str or a list of str, received {shorten(raw)}",
            )
    if key is not None and row_key is None:
        return BadRow(number, line, f"the key {key!r} is missing")
    if not inputs:
        return BadRow(number, line, "the row has no inputs", row_key)
    return Row(number, line, inputs, row_key)


def rows_of(items: Iterable[object], key: str | None = None) -> Iterator[Row | BadRow]:
    """Rows from an iterable of mappings (the library's ``rows``), numbered from 1."""
    for number, item in enumerate(items, 1):
        yield row_from_mapping(number, number, item, key)


class RowsFile:
    """The rows of a CSV or JSONL file, read a line at a time on each pass (memory does
    not grow with the file). ``check()`` reads it once for every bad row, before any is
    sent; iterating gives each row (or ``BadRow``) in order."""

    def __init__(self, path: str | os.PathLike[str], *, key: str | None = None) -> None:
        self.path = Path(path)
        self.key = key
        if not self.path.is_file():
            raise InvalidArgumentError(f"input {str(self.path)!r} is not a readable file")

    def __iter__(self) -> Iterator[Row | BadRow]:
        with self.path.open(encoding="utf-8-sig", newline="") as f:
            if _is_csv(self.path):
                yield from self._csv(f)
            else:
                yield from self._jsonl(f)

    def _jsonl(self, f: IO[str]) -> Iterator[Row | BadRow]:
        number = 0
        for line, text in enumerate(f, 1):
            if not text.strip():
                continue
            number += 1
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                yield BadRow(
                    number, line, f"not a JSON object: {exc.msg} ({shorten(text.strip())})"
                )
                continue
            yield row_from_mapping(number, line, value, self.key)

    def _csv(self, f: IO[str]) -> Iterator[Row | BadRow]:
        reader = csv.reader(f)
        try:
            header = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise InvalidArgumentError(f"input {str(self.path)!r}: line 1: {exc}") from None
        names = [name.strip() for name in header]
        if any(not name for name in names):
            raise InvalidArgumentError(
                f"input {str(self.path)!r}: line 1: every column needs a name, received {header}"
            )
        if self.key is not None and names.count(self.key) != 1:
            raise InvalidArgumentError(
                f"input {str(self.path)!r}: the key column {self.key!r} must appear once in the "
                f"header, received {header}"
            )
        repeated = {name for name in names if names.count(name) > 1}
        number = 0
        line = reader.line_num
        while True:
            start = reader.line_num + 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                number += 1
                yield BadRow(number, start, f"not valid CSV: {exc}")
                continue
            line = start
            if not any(cell.strip() for cell in cells):
                continue  # a blank line
            number += 1
            if len(cells) != len(names):
                yield BadRow(
                    number, line, f"the row has {len(cells)} cells, the header {len(names)}"
                )
                continue
            inputs: dict[str, list[str]] = {}
            row_key: str | None = None
            for name, cell in zip(names, cells, strict=True):
                if name == self.key:
                    row_key = cell
                elif name in repeated:
                    values = inputs.setdefault(name, [])
                    if cell != "":
                        values.append(cell)
                else:
                    inputs[name] = [cell]
            if self.key is not None and not row_key:
                yield BadRow(number, line, f"the key {self.key!r} is empty")
            elif not inputs:
                yield BadRow(number, line, "the row has no inputs", row_key)
            else:
                yield Row(number, line, inputs, row_key)

    def check(self) -> tuple[int, list[BadRow], str]:
        """One pass over the file: the number of rows, the bad ones (a duplicate key
        included), and a fingerprint of the content (a resume checks it is the same)."""
        count = 0
        bad: list[BadRow] = []
        keys: dict[str, int] = {}
        for row in self:
            count += 1
            if isinstance(row, BadRow):
                bad.append(row)
            elif row.key is not None:
                first = keys.setdefault(row.key, row.line)
                if first != row.line:
                    bad.append(
                        BadRow(row.number, row.line, f"the key {row.key!r} is also on line {first}")
                    )
        return count, bad, fingerprint(self.path)


def fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def describe(bad: Sequence[BadRow], source: str) -> str:
    """The error for rows that cannot be sent: each with its line, up to SHOW_PROBLEMS."""
    shown = "; ".join(f"line {b.line}: {b.reason}" for b in bad[:SHOW_PROBLEMS])
    more = f"; and {len(bad) - SHOW_PROBLEMS} more" if len(bad) > SHOW_PROBLEMS else ""
    noun = "row" if len(bad) == 1 else "rows"
    return (
        f"{source}: {len(bad)} {noun} cannot be sent: {shown}{more}; fix them, or skip them "
        "(each gets an 'invalid' result with its reason)"
    )


# --- results ---------------------------------------------------------------------------

RESULT_FIELDS = (
    "row",
    "key",
    "inputs",
    "job_id",
    "status",
    "attempts",
    "title",
    "suggestion",
    "error",
    "candidates",
)


@attrs.frozen
class RowResult:
    """What became of one input row.

    ``status``: ``completed``, ``failed`` (its last run failed, or the create was
    refused), ``unresolved`` (its create's answer was lost and the job list cannot prove
    which job, if any, it made: ``candidates`` lists the jobs it may have made), or
    ``invalid`` (not sent: ``error`` says why). ``attempts``: how many times its job
    ran (the create and each retry)."""

    row: int
    status: str
    key: str | None = None
    inputs: dict[str, list[str]] | None = None
    job_id: UUID | None = None
    attempts: int = 0
    title: str | None = None
    suggestion: str | None = None
    error: str | None = None
    candidates: tuple[UUID, ...] = ()

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"row": self.row}
        if self.key is not None:
            data["key"] = self.key
        else:
            data["inputs"] = self.inputs
        data["job_id"] = None if self.job_id is None else str(self.job_id)
        data["status"] = self.status
        data["attempts"] = self.attempts
        if self.suggestion is not None or self.title is not None:
            data["data"] = {"title": self.title, "suggestion": self.suggestion}
        if self.error is not None:
            data["error"] = self.error
        if self.candidates:
            data["candidates"] = [str(c) for c in self.candidates]
        return data

    def to_csv(self) -> list[str]:
        inputs = "" if self.inputs is None else json.dumps(self.inputs, ensure_ascii=False)
        return [
            str(self.row),
            self.key or "",
            inputs if self.key is None else "",
            "" if self.job_id is None else str(self.job_id),
            self.status,
            str(self.attempts),
            self.title or "",
            self.suggestion or "",
            self.error or "",
            " ".join(str(c) for c in self.candidates),
        ]


class ResultsFile:
    """The results file: one record per row, appended and flushed as each row ends.

    Opened again, it says which rows already have their record (a resume skips them),
    and a last line cut by a crash is dropped (that row is finished again).
    ``drop_unresolved`` removes the ``unresolved`` records first (a run told to create
    those rows again writes their new record)."""

    def __init__(self, path: str | os.PathLike[str], *, drop_unresolved: bool = False) -> None:
        self.path = Path(path)
        self.csv = _is_csv(self.path)
        self.done: set[int] = set()
        #: Rows whose record is ``unresolved`` (before any was dropped).
        self.unresolved: set[int] = set()
        #: The records kept, by status.
        self.statuses: dict[str, int] = {}
        if self.path.is_dir():
            raise InvalidArgumentError(f"results {str(self.path)!r} is a directory; give a file")
        if not self.path.parent.is_dir():
            raise InvalidArgumentError(
                f"results {str(self.path)!r}: the folder {str(self.path.parent)!r} does not exist"
            )
        if self.path.exists():
            self._load(drop_unresolved)
        try:
            self._file: IO[str] | None = self.path.open("a", encoding="utf-8", newline="")
        except OSError as exc:
            raise InvalidArgumentError(
                f"results {str(self.path)!r} cannot be opened: {exc}"
            ) from None
        self._writer = csv.writer(self._file) if self.csv else None
        if self.csv and self.path.stat().st_size == 0:
            assert self._writer is not None
            self._writer.writerow(RESULT_FIELDS)
            self._file.flush()

    def _load(self, drop_unresolved: bool) -> None:
        raw = self.path.read_bytes().decode("utf-8", "replace")
        records = self._csv_records(raw) if self.csv else self._json_records(raw)
        kept: list[tuple[str, int]] = []
        for text, number, status in records:
            if number is None:
                continue  # not a record (one cut by a crash): dropped
            if status == "unresolved":
                self.unresolved.add(number)
                if drop_unresolved:
                    continue
            if number in self.done:
                continue  # never two records for a row
            self.done.add(number)
            self.statuses[str(status)] = self.statuses.get(str(status), 0) + 1
            kept.append((text, number))
        header = _csv_line(list(RESULT_FIELDS)) if self.csv else ""
        new = header + "".join(text for text, _ in kept)
        if new != raw:
            # Rewritten whole, then renamed over: a crash here leaves the old file or the new.
            temporary = self.path.with_name(self.path.name + ".tmp")
            temporary.write_text(new, encoding="utf-8", newline="")
            os.replace(temporary, self.path)

    @staticmethod
    def _json_records(raw: str) -> Iterator[tuple[str, int | None, str | None]]:
        for line in raw.splitlines(keepends=True):
            if line.endswith("\n"):  # a line without its end was cut by a crash
                yield (line, *_json_record(line))

    @staticmethod
    def _csv_records(raw: str) -> Iterator[tuple[str, int | None, str | None]]:
        complete = raw.endswith("\n")
        rows = list(csv.reader(io.StringIO(raw)))
        for index, cells in enumerate(rows[1:], 1):
            if index == len(rows) - 1 and not complete:
                return  # the last record, cut by a crash
            if len(cells) != len(RESULT_FIELDS) or not cells[0].isdigit():
                yield "", None, None
                continue
            yield _csv_line(cells), int(cells[0]), cells[RESULT_FIELDS.index("status")]

    def write(self, result: RowResult) -> None:
        if self._file is None:
            return
        if self._writer is not None:
            self._writer.writerow(result.to_csv())
        else:
            self._file.write(json.dumps(result.to_json(), ensure_ascii=False) + "\n")
        self._file.flush()
        self.done.add(result.row)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _json_record(line: str) -> tuple[int | None, str | None]:
    try:
        record = json.loads(line)
    except ValueError:
        return None, None
    if not isinstance(record, dict):
        return None, None
    number = record.get("row")
    if not isinstance(number, int) or isinstance(number, bool):
        return None, None
    status = record.get("status")
    return number, status if isinstance(status, str) else None


def _csv_line(cells: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(cells)
    return buffer.getvalue()
