"""The project's catalogue of documents, its glossary, and the corpus manifest of checksums."""

from __future__ import annotations

import csv
import re
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from ..errors import CorpusError
from ..types import DocEntry

# Files a user may drop into the corpus folder without a catalogue entry.
DROP_IN_FORMATS = {".pdf": "pdf", ".html": "html", ".htm": "html", ".txt": "text", ".md": "text"}
_ENTRY_FIELDS = {f.name for f in fields(DocEntry)}


def load_catalogue(path: Path) -> list[DocEntry]:
    """Read catalogue.toml into entries, naming the entry at fault when one is malformed."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CorpusError(f"catalogue not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise CorpusError(f"catalogue {path} is not valid TOML: {exc}") from None
    entries: list[DocEntry] = []
    seen: set[tuple[str, str]] = set()
    for i, raw in enumerate(data.get("document", []), 1):
        unknown = set(raw) - _ENTRY_FIELDS
        if unknown:
            raise CorpusError(f"catalogue entry {i} ({raw.get('id', '?')}): unknown field(s) {sorted(unknown)}")
        try:
            values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}
            entry = DocEntry(**values)
        except TypeError as exc:
            raise CorpusError(f"catalogue entry {i} ({raw.get('id', '?')}): {exc}") from None
        key = (entry.id, entry.path)
        if key in seen:
            raise CorpusError(f"catalogue entry {i}: duplicate id {entry.id!r} for {entry.path}")
        seen.add(key)
        entries.append(entry)
    if not entries:
        raise CorpusError(f"catalogue {path} lists no documents")
    return entries


def drop_in_entries(corpus_dir: Path, catalogued: set[str]) -> list[DocEntry]:
    """Catalogue entries for the PDF, HTML, text and Markdown files of the corpus folder the catalogue does not list."""
    entries = []
    for file in sorted(corpus_dir.rglob("*")):
        fmt = DROP_IN_FORMATS.get(file.suffix.lower())
        rel = file.relative_to(corpus_dir).as_posix()
        if not fmt or not file.is_file() or rel in catalogued or file.name.upper().startswith(("README", "MANIFEST")):
            continue
        slug = re.sub(r"[^a-z0-9]+", "-", file.stem.lower()).strip("-") or "document"
        entries.append(
            DocEntry(
                id=slug,
                title=file.stem.replace("_", " ").replace("-", " "),
                citation=file.name,
                kind="document",
                tier=4,
                date="",
                url="",
                path=rel,
                format=fmt,
            )
        )
    return entries


def load_checksums(corpus_dir: Path) -> dict[str, str]:
    """Map corpus-relative path to expected sha256, from MANIFEST.tsv when the corpus has one."""
    manifest = corpus_dir / "MANIFEST.tsv"
    if not manifest.is_file():
        return {}
    with manifest.open(encoding="utf-8", newline="") as fh:
        return {row["path"]: row["sha256"] for row in csv.DictReader(fh, delimiter="\t") if row.get("sha256")}


@dataclass(frozen=True)
class Term:
    """A glossary term: its key (often an acronym), expansion, other names, and hints: words that point to it
    without naming it ("veto", "attacked"), which bring its expansion into the search and nothing more."""

    key: str
    expansion: str
    also: tuple[str, ...] = ()
    hints: tuple[str, ...] = ()


def load_glossary(path: Path) -> list[Term]:
    """Read glossary.toml; an absent glossary simply means no query expansion."""
    if not path.is_file():
        return []
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise CorpusError(f"glossary {path} is not valid TOML: {exc}") from None
    terms = []
    for key, entry in data.get("terms", {}).items():
        problem = _term_problem(entry)
        if problem:
            raise CorpusError(f"glossary {path}: term {key!r} {problem}")
        terms.append(Term(key, entry["expansion"], tuple(entry.get("also", ())), tuple(entry.get("hints", ()))))
    return terms


def _term_problem(entry: object) -> str:
    """What is wrong with a glossary term's table, or "" ("hints" given as a string would be read letter by letter)."""
    if not isinstance(entry, dict):
        return 'must be a table: { expansion = "...", also = [...], hints = [...] }'
    unknown = sorted(set(entry) - {"expansion", "also", "hints"})
    if unknown:
        return f"has unknown fields {', '.join(unknown)} (expected expansion, also, hints)"
    if not isinstance(entry.get("expansion"), str) or not entry["expansion"].strip():
        return "needs a non-empty expansion"
    for field in ("also", "hints"):
        names = entry.get(field, [])
        if not isinstance(names, list) or not all(isinstance(n, str) and n.strip() for n in names):
            return f"{field} must be a list of non-empty names"
    return ""


def load_words(path: Path) -> dict[str, tuple[str, ...]]:
    """The glossary's everyday words, each with the words the legal texts use for it; absent file, none."""
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise CorpusError(f"glossary {path} is not valid TOML: {exc}") from None
    words = data.get("words", {})
    if not all(isinstance(v, list) and all(isinstance(w, str) for w in v) for v in words.values()):
        raise CorpusError(f"glossary {path}: [words] must map each word to a list of words")
    return {str(k): tuple(v) for k, v in words.items()}


def load_qualifiers(path: Path) -> tuple[str, ...]:
    """The glossary's words that qualify a rule (`[qualifiers] words`); absent file or table, none."""
    if not path.is_file():
        return ()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise CorpusError(f"glossary {path} is not valid TOML: {exc}") from None
    words = data.get("qualifiers", {}).get("words", [])
    if not isinstance(words, list) or not all(isinstance(w, str) and w.strip() for w in words):
        raise CorpusError(f"glossary {path}: [qualifiers] words must be a list of words")
    return tuple(w.strip().lower() for w in words)


def load_article_titles(path: Path) -> dict[tuple[str, str], str]:
    """Read article_titles.toml: {(source id, article number): descriptive title}; absent file, no titles."""
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise CorpusError(f"article titles {path} are not valid TOML: {exc}") from None
    titles: dict[tuple[str, str], str] = {}
    for source, table in data.items():
        if not isinstance(table, dict) or not all(isinstance(t, str) and t.strip() for t in table.values()):
            raise CorpusError(f"article titles {path}: [{source}] must map article numbers to non-empty titles")
        titles.update({(source, str(article)): title.strip() for article, title in table.items()})
    return titles
