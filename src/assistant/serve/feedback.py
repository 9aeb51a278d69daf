"""Ratings from the chat page: a small SQLite store under the data folder, exported as JSONL (exact) or CSV (made safe
for spreadsheets: no formulas, no control characters)."""

from __future__ import annotations

import csv
import json
import re
import sqlite3
import sys
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TextIO

from ..config import Settings
from ..permissions import private_file

FORMATS = ("jsonl", "csv")
COLUMNS = ("id", "time", "rating", "question", "answer", "citations", "comment")
MAX_COMMENT_CHARS = 2000
# OWASP "CSV Injection": spreadsheets run a cell starting with one of these as a formula (=HYPERLINK, DDE ...)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# control characters have no place in a spreadsheet cell; line breaks and tabs inside a cell are kept (quoted)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time TEXT NOT NULL,
    rating INTEGER NOT NULL CHECK (rating IN (-1, 1)),
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    citations TEXT NOT NULL,
    comment TEXT NOT NULL DEFAULT ''
)
"""


def feedback_path(settings: Settings) -> Path:
    """Where the chat page keeps its ratings."""
    return settings.data_dir / "feedback.sqlite"


def _rating(value: int) -> int:
    if value not in (-1, 1):
        raise ValueError(f"rating must be +1 (thumbs up) or -1 (thumbs down), not {value!r}")
    return value


def _comment(value: str) -> str:
    value = (value or "").strip()
    if len(value) > MAX_COMMENT_CHARS:
        raise ValueError(f"the comment is {len(value)} characters long; the limit is {MAX_COMMENT_CHARS}")
    return value


class FeedbackStore:
    """Thumbs up/down with an optional comment on one answer; a short connection per call, so any thread may use it."""

    def __init__(self, path: Path):
        self.path = Path(path)
        private_file(self.path)
        with self._db() as db:
            db.execute(_SCHEMA)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=10)) as db:
            db.row_factory = sqlite3.Row
            with db:  # commit on success, roll back on error
                yield db

    def add(self, question: str, answer: str, citations: Sequence[dict], rating: int, comment: str = "") -> int:
        """Record a rating of one answer; returns the row id (to attach a comment or change the rating later)."""
        row = (
            datetime.now(timezone.utc).isoformat(timespec="seconds"),
            _rating(rating),
            question,
            answer,
            json.dumps(list(citations), ensure_ascii=False),
            _comment(comment),
        )
        with self._db() as db:
            cursor = db.execute(
                "INSERT INTO feedback (time, rating, question, answer, citations, comment) VALUES (?, ?, ?, ?, ?, ?)",
                row,
            )
            return int(cursor.lastrowid or 0)

    def rate(self, row_id: int, rating: int) -> None:
        """Change the rating of a recorded answer (the person changed their mind)."""
        with self._db() as db:
            db.execute("UPDATE feedback SET rating = ? WHERE id = ?", (_rating(rating), row_id))

    def comment(self, row_id: int, comment: str) -> None:
        """Attach (or replace) the comment of a recorded rating."""
        with self._db() as db:
            db.execute("UPDATE feedback SET comment = ? WHERE id = ?", (_comment(comment), row_id))

    def delete(self, row_id: int) -> None:
        """Remove a rating the person took back."""
        with self._db() as db:
            db.execute("DELETE FROM feedback WHERE id = ?", (row_id,))

    def rows(self) -> list[dict]:
        """Every rating, oldest first, with citations decoded."""
        with self._db() as db:
            rows = db.execute(f"SELECT {', '.join(COLUMNS)} FROM feedback ORDER BY id").fetchall()
        return [{**dict(r), "citations": json.loads(r["citations"])} for r in rows]

    def export(self, out: Path | str | TextIO, fmt: str = "jsonl") -> int:
        """Write every rating to a file path, "-" (standard output) or an open text stream; returns the row count."""
        if fmt not in FORMATS:
            raise ValueError(f"unknown export format {fmt!r}; allowed: {', '.join(FORMATS)}")
        rows = self.rows()
        if isinstance(out, (str, Path)) and str(out) != "-":
            with open(out, "w", encoding="utf-8", newline="") as fh:
                _write(rows, fh, fmt)
        else:
            _write(rows, sys.stdout if isinstance(out, (str, Path)) else out, fmt)
        return len(rows)


def csv_cell(value: object) -> object:
    """A text cell safe to open in a spreadsheet: control characters dropped (CR LF becomes LF), and a leading
    formula character neutralised with a single quote; numbers are left as they are (-1 is a rating)."""
    if not isinstance(value, str):
        return value
    text = _CONTROL.sub("", value.replace("\r\n", "\n"))
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _write(rows: list[dict], stream: TextIO, fmt: str) -> None:
    if fmt == "jsonl":
        for row in rows:
            stream.write(json.dumps(row, ensure_ascii=False) + "\n")
        return
    writer = csv.DictWriter(stream, fieldnames=COLUMNS)
    writer.writeheader()
    for row in rows:
        # a CSV cell holds the citations as the same JSON the JSONL export carries
        cells = {**row, "citations": json.dumps(row["citations"], ensure_ascii=False)}
        writer.writerow({name: csv_cell(value) for name, value in cells.items()})
