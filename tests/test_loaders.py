"""Loaders on each format, from the real corpus files, and on broken files."""

from __future__ import annotations

import pytest

from assistant.config import PROJECT_ROOT, Settings
from assistant.errors import DocumentError
from assistant.ingest.catalogue import drop_in_entries, load_catalogue
from assistant.ingest.loaders import load_file, read_verified
from assistant.types import DocEntry

from .conftest import CORPUS

CATALOGUE = load_catalogue(PROJECT_ROOT / "corpus" / "catalogue.toml")


def entries_for(path: str) -> list[DocEntry]:
    return [e for e in CATALOGUE if e.path == path]


def load(path: str):
    return {(d.source_id, d.kind): d for d in load_file((CORPUS / path).read_bytes(), entries_for(path))}


@pytest.fixture(scope="module")
def treaty():
    return load("treaties/teu-tfeu-consolidated-2016.xhtml")


def test_teu_has_55_articles_and_tfeu_part_five_in_scope(treaty):
    teu, tfeu = treaty[("TEU", "treaty")], treaty[("TFEU", "treaty")]
    assert teu.article_count == 55
    articles = {b.article for b in tfeu.blocks}
    assert {str(n) for n in range(205, 223)} | {"275", "346", "347", "348"} == articles


def test_article_42_text_and_headings(treaty):
    art42 = [b for b in treaty[("TEU", "treaty")].blocks if b.article == "42"][0]
    seventh = " ".join(p.text for p in art42.paragraphs if p.number == "7")
    assert "aid and assistance" in seventh
    assert any("COMMON SECURITY AND DEFENCE POLICY" in h for h in art42.headings)


def test_protocols_and_declarations_are_separate_documents(treaty):
    assert treaty[("PROTOCOL-10", "treaty")].article_count == 3
    assert "Article 42" in treaty[("PROTOCOL-11", "treaty")].blocks[0].paragraphs[1].text
    assert "Common Foreign and Security Policy" in treaty[("DECLARATION-14", "treaty")].blocks[0].paragraphs[0].text


def test_act_with_oj_prefixed_classes():
    doc = load("acts-xhtml/32021D0796.xhtml")[("32021D0796", "decision")]
    assert doc.article_count == 2
    assert doc.blocks[0].part == "preamble"


def test_act_without_prefix_numbers_paragraphs():
    doc = load("acts-xhtml/32019D0797.xhtml")[("32019D0797", "decision")]
    art1 = [b for b in doc.blocks if b.article == "1"][0]
    assert [p.number for p in art1.paragraphs][:2] == ["1", "2"]
    assert any(p.text.startswith("(a) originate") for p in art1.paragraphs)


def test_eurlex_record_gives_act_and_summary():
    docs = load("eurlex-sum/32017D2315.json")
    act, summary = docs[("32017D2315", "decision")], docs[("32017D2315", "official summary")]
    assert act.article_count == 11
    assert summary.tier == 3 and summary.citation == "EUR-Lex summary of Decision (CFSP) 2017/2315"
    assert "LSU" in summary.url
    assert not any("MAIN DOCUMENT" in h for b in summary.blocks for h in b.headings)


def test_record_without_line_breaks_is_split_into_articles():
    act = load("eurlex-sum/32001E0931.json")[("32001E0931", "common position")]
    art1 = [b for b in act.blocks if b.article == "1"][0]
    assert art1.paragraphs[0].text.startswith("1. This Common Position applies")
    assert {b.article for b in act.blocks if b.article} == {str(n) for n in range(1, 8)}


def test_dual_use_annex_items_are_not_indexed():
    act = load("eurlex-sum/32021R0821.json")[("32021R0821", "regulation")]
    assert act.article_count >= 30
    assert not [b for b in act.blocks if b.part == "annex"]


def test_web_page_furniture_removed():
    page = load("web/cfsp-overview-page.txt")[("cfsp-overview", "web page")]
    text = " ".join(p.text for b in page.blocks for p in b.paragraphs)
    assert "Skip to content" not in text and "Read also" not in text
    assert "High Representative" in text


def test_truncated_xhtml_is_refused():
    raw = (CORPUS / "acts-xhtml/32019D0797.xhtml").read_bytes()
    with pytest.raises(DocumentError, match="malformed XHTML"):
        load_file(raw[: len(raw) // 2], entries_for("acts-xhtml/32019D0797.xhtml"))


def test_invalid_json_is_refused():
    with pytest.raises(DocumentError, match="invalid JSON"):
        load_file(b'{"celex_id": "x", "reference": ', entries_for("eurlex-sum/32017D2315.json"))


def test_checksum_mismatch_is_refused(tmp_path):
    f = tmp_path / "x.txt"
    f.write_text("changed")
    with pytest.raises(DocumentError, match="sha256"):
        read_verified(f, "0" * 64)


def test_file_over_the_size_limit_is_refused_with_both_sizes(tmp_path):
    f = tmp_path / "dump.txt"
    f.write_text("The Council shall act unanimously.\n" * 100)  # 3,600 bytes
    with pytest.raises(
        DocumentError, match=r"the file is 3,500 bytes; the limit is 1,024 bytes \(CFSP_MAX_FILE_BYTES\)"
    ):
        read_verified(f, None, max_bytes=1024)
    assert read_verified(f, None, max_bytes=3500) == f.read_bytes()  # the limit itself is allowed
    assert read_verified(f, None) == f.read_bytes()  # no limit given: any size


def test_default_size_limit_is_generous_for_the_official_texts():
    biggest = max(p.stat().st_size for p in CORPUS.rglob("*") if p.is_file())
    assert biggest * 10 < Settings.model_fields["max_file_bytes"].default


def test_deeply_nested_json_is_refused_not_a_crash():
    # thousands of levels make Python's JSON parser overflow its recursion limit (a RecursionError aborted ingest)
    nested = b'{"reference": "Article 1", "summary": "x", "extra": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with pytest.raises(DocumentError, match="nested too deeply"):
        load_file(nested, entries_for("eurlex-sum/32017D2315.json"))


def _pdf(text: str) -> bytes:
    """A minimal one-page PDF with a line of text (hand-built, so the test needs no PDF writer)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for i, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def test_dropped_in_pdf_and_html(tmp_path):
    (tmp_path / "briefing.pdf").write_bytes(_pdf("The Council adopted conclusions on maritime security."))
    (tmp_path / "note.html").write_text(
        "<html><title>Note</title><body><nav>Menu</nav><h1>Aims</h1>"
        "<p>The Union promotes peace.</p><script>x()</script></body></html>"
    )
    entries = drop_in_entries(tmp_path, set())
    docs = {e.format: load_file((tmp_path / e.path).read_bytes(), [e])[0] for e in entries}
    assert "maritime security" in docs["pdf"].blocks[0].paragraphs[0].text
    html_text = [p.text for b in docs["html"].blocks for p in b.paragraphs]
    assert html_text == ["The Union promotes peace."]


def test_empty_and_encrypted_pdf_are_refused(tmp_path):
    import io

    from pypdf import PdfReader, PdfWriter

    entry = DocEntry("x", "x", "x", "document", 4, "", "", "x.pdf", "pdf")
    with pytest.raises(DocumentError, match="empty PDF"):
        load_file(b"", [entry])
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(_pdf("secret"))))
    writer.encrypt("pw")
    buf = io.BytesIO()
    writer.write(buf)
    with pytest.raises(DocumentError, match="encrypted"):
        load_file(buf.getvalue(), [entry])


def test_every_indexed_treaty_article_has_a_descriptive_title(treaty):
    from assistant.ingest.catalogue import load_article_titles

    titles = load_article_titles(PROJECT_ROOT / "corpus" / "article_titles.toml")
    for source in ("TEU", "TFEU"):
        articles = {b.article for b in treaty[(source, "treaty")].blocks if b.article}
        assert articles <= {a for s, a in titles if s == source}, source
    assert all(4 <= len(t.split()) <= 16 for t in titles.values())


def test_title_goes_into_the_indexed_headings_not_the_quoted_text(treaty):
    from assistant.ingest.chunking import Chunker

    title = "Security and defence policy, mutual assistance if attacked"
    chunks = Chunker(lambda text: len(text.split()), 230, 30, {("TEU", "42"): title}).chunk([treaty[("TEU", "treaty")]])
    art42 = [c for c in chunks if c.article == "42"]
    assert art42 and all(c.headings.endswith(f"Article 42: {title}") for c in art42)
    assert all(title not in c.text and c.label.startswith("Art. 42") for c in art42)
    other = [c for c in chunks if c.article == "41"]
    assert other and other[0].headings.endswith("Article 41")


def test_a_protocol_is_headed_by_its_title_a_treaty_by_its_citation(treaty):
    """A protocol's title says what it is about ("... on permanent structured cooperation"); a Treaty's full title
    would add only words every question shares."""
    from assistant.ingest.chunking import Chunker

    chunks = Chunker(lambda text: len(text.split()), 230, 30).chunk(
        [treaty[("PROTOCOL-10", "treaty")], treaty[("TEU", "treaty")]]
    )
    protocol = [c for c in chunks if c.source_id == "PROTOCOL-10"]
    assert protocol and all(c.headings.startswith("Protocol (No 10) on permanent structured") for c in protocol)
    assert all(c.headings.split(" — ")[0] == "TEU" for c in chunks if c.source_id == "TEU")


@pytest.mark.parametrize(
    "entry,problem",
    [
        ('"X" = "Y"', "must be a table"),
        ('"X" = { expansion = "Y", hint = ["z"] }', "has unknown fields hint"),
        ('"X" = { also = ["z"] }', "needs a non-empty expansion"),
        ('"X" = { expansion = "Y", hints = "veto" }', "hints must be a list"),
        ('"X" = { expansion = "Y", also = ["ok", ""] }', "also must be a list of non-empty names"),
    ],
)
def test_a_malformed_glossary_term_is_named_with_what_is_wrong(tmp_path, entry, problem):
    from assistant.errors import CorpusError
    from assistant.ingest.catalogue import load_glossary

    glossary = tmp_path / "glossary.toml"
    glossary.write_text(f"[terms]\n{entry}\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=f"term 'X' {problem}"):
        load_glossary(glossary)


def test_the_project_glossary_loads():
    from assistant.ingest.catalogue import load_glossary

    terms = load_glossary(PROJECT_ROOT / "corpus" / "glossary.toml")
    assert any(t.key == "unanimity" and "veto" in t.hints and "veto" not in t.also for t in terms)


def test_malformed_titles_file_is_named(tmp_path):
    from assistant.errors import CorpusError
    from assistant.ingest.catalogue import load_article_titles

    bad = tmp_path / "titles.toml"
    bad.write_text('[TEU]\n"42" = \n', encoding="utf-8")
    with pytest.raises(CorpusError, match="not valid TOML"):
        load_article_titles(bad)
    bad.write_text('[TEU]\n"42" = ""\n', encoding="utf-8")
    with pytest.raises(CorpusError, match="non-empty titles"):
        load_article_titles(bad)
    assert load_article_titles(tmp_path / "absent.toml") == {}


def test_bad_corpus_files_are_skipped_and_named_while_the_rest_loads(small_settings, small_corpus):
    from assistant.ingest.build import load_corpus

    corpus, _ = small_corpus
    nested = b'{"reference": "Article 1", "summary": "x", "extra": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    (corpus / "eurlex-sum/32014D0415.json").write_bytes(nested)
    limit = max(f.stat().st_size for f in corpus.rglob("*") if f.is_file())  # every official file fits
    (corpus / "dump.txt").write_text("The Council shall act unanimously.\n" * (limit // 35 + 1))  # a dropped-in dump
    size = (corpus / "dump.txt").stat().st_size
    docs, skipped = load_corpus(small_settings.model_copy(update={"verify_checksums": False, "max_file_bytes": limit}))
    assert sorted(skipped) == [
        ("dump.txt", f"the file is {size:,} bytes; the limit is {limit:,} bytes (CFSP_MAX_FILE_BYTES)"),
        ("eurlex-sum/32014D0415.json", "invalid JSON: nested too deeply to be a EUR-Lex-Sum record"),
    ]
    assert {d.source_id for d in docs} == {"32019D0797", "32021D0796", "32017D2315", "cfsp-overview"}
