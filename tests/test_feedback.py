"""The feedback store on a real SQLite file, its JSONL/CSV export, and the `feedback-export` command."""

from __future__ import annotations

import csv
import io
import json

import pytest

from assistant.serve.feedback import FeedbackStore

from .commands import clean_env, run_cli

CITATION = {
    "n": 1,
    "label": "Art. 42(7) TEU",
    "url": "http://data.europa.eu/eli/treaty/teu_2016/art_42/oj",
    "source_id": "TEU",
    "article": "42",
    "paragraph": "7",
    "kind": "treaty",
    "date": "2016-06-07",
    "title": "Treaty on European Union",
    "quote": "If a Member State is the victim of armed aggression…",
    "chunk_id": "c1",
}


@pytest.fixture
def store(tmp_path) -> FeedbackStore:
    return FeedbackStore(tmp_path / "data" / "feedback.sqlite")


def test_ratings_round_trip_with_comment_and_change_of_mind(store):
    up = store.add("Does the EU have a mutual defence clause?", "If a Member State … [1]", [CITATION], +1)
    down = store.add("What about Mars?", "The official texts I search do not answer this question…", [], -1)
    store.comment(up, "Clear, thanks — «quoted» text")
    store.rate(down, +1)
    rows = store.rows()
    assert [(r["id"], r["rating"], r["comment"]) for r in rows] == [
        (up, 1, "Clear, thanks — «quoted» text"),
        (down, 1, ""),
    ]
    assert rows[0]["citations"] == [CITATION] and rows[0]["time"].endswith("+00:00")
    store.delete(down)
    assert [r["id"] for r in store.rows()] == [up]


def test_bad_ratings_and_overlong_comments_are_refused(store):
    with pytest.raises(ValueError, match="rating must be"):
        store.add("q", "a", [], 0)
    row = store.add("q", "a", [], -1)
    with pytest.raises(ValueError, match="limit is 2000"):
        store.comment(row, "x" * 2001)


def test_export_jsonl_and_csv(store, tmp_path):
    store.add('He said "hi", then <b>left</b>', "line one\nline two [1]", [CITATION], 1, "a, b")
    store.add("second", "answer", [], -1)
    assert store.export(tmp_path / "out.jsonl", "jsonl") == 2
    lines = (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()
    first = json.loads(lines[0])
    assert (
        len(lines) == 2 and first["question"] == 'He said "hi", then <b>left</b>' and first["citations"] == [CITATION]
    )

    buffer = io.StringIO()
    assert store.export(buffer, "csv") == 2
    rows = list(csv.DictReader(io.StringIO(buffer.getvalue())))
    assert [r["rating"] for r in rows] == ["1", "-1"]
    assert rows[0]["answer"] == "line one\nline two [1]" and rows[0]["comment"] == "a, b"
    assert json.loads(rows[0]["citations"])[0]["label"] == "Art. 42(7) TEU"
    with pytest.raises(ValueError, match="allowed: jsonl, csv"):
        store.export(buffer, "xml")


def run(home, args, **env):
    return run_cli(args, clean_env(home, **env), home, timeout=120)


def test_cli_export(tmp_path, home):
    data = tmp_path / "data"
    missing = run(home, ["feedback-export", "--out", str(tmp_path / "x.jsonl")], CFSP_DATA_DIR=str(data))
    assert (
        missing.returncode == 1 and "no feedback recorded yet" in missing.stderr and "Traceback" not in missing.stderr
    )

    FeedbackStore(data / "feedback.sqlite").add(
        "What is PESCO?", "Permanent structured cooperation … [1]", [CITATION], 1
    )
    out = tmp_path / "feedback.csv"
    result = run(home, ["feedback-export", "--format", "csv", "--out", str(out)], CFSP_DATA_DIR=str(data))
    assert result.returncode == 0, result.stderr
    assert "exported 1 ratings" in result.stderr
    assert next(csv.DictReader(out.open(encoding="utf-8")))["question"] == "What is PESCO?"

    to_stdout = run(home, ["feedback-export", "--out", "-"], CFSP_DATA_DIR=str(data))
    assert json.loads(to_stdout.stdout.splitlines()[0])["rating"] == 1

    wrong = run(home, ["feedback-export", "--format", "xml", "--out", str(out)], CFSP_DATA_DIR=str(data))
    assert wrong.returncode == 1 and "allowed: jsonl, csv" in wrong.stderr


def test_csv_export_neutralises_formulas_and_control_characters(store, tmp_path):
    # OWASP CSV injection: a cell starting with = + - @ tab or carriage return is run as a formula by spreadsheets
    hostile = {
        '=HYPERLINK("http://evil.example","click")': '\'=HYPERLINK("http://evil.example","click")',
        "+1+2": "'+1+2",
        "-2+3": "'-2+3",
        "@SUM(A1)": "'@SUM(A1)",
        "\t=1": "'\t=1",
        "\r=1": "'=1",
    }
    for question in hostile:
        store.add(question, "answer\x00 with NUL\x07 and\r\nline break\tand tab", [], -1, "=cmd|' /C calc'!A0")
    store.add("Is a - b fine?", "-", [], 1)
    buffer = io.StringIO()
    store.export(buffer, "csv")
    rows = list(csv.DictReader(io.StringIO(buffer.getvalue())))
    assert [r["question"] for r in rows] == [*hostile.values(), "Is a - b fine?"]
    assert all(r["comment"] == "'=cmd|' /C calc'!A0" for r in rows[:-1])
    assert rows[0]["answer"] == "answer with NUL and\nline break\tand tab"  # controls gone, line breaks and tabs kept
    assert rows[-1]["answer"] == "'-" and [r["rating"] for r in rows][-2:] == ["-1", "1"]  # numbers stay numbers
    assert "\x00" not in buffer.getvalue() and "\x07" not in buffer.getvalue()

    store.export(tmp_path / "exact.jsonl", "jsonl")  # JSONL is for programs: every character kept exactly
    exact = [json.loads(line) for line in (tmp_path / "exact.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["question"] for r in exact] == [*hostile, "Is a - b fine?"]
    assert exact[0]["answer"] == "answer\x00 with NUL\x07 and\r\nline break\tand tab"
