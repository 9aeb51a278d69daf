"""The training code on small hand-made inputs: data checks, the split by document, the ranker's fitting and
threshold, and a tiny real adapter training run on about 20 pairs."""

import json
from pathlib import Path

import numpy as np
import pytest

from assistant.embedding.adapter import tuned_model_dir, verify_adapter, write_sums
from assistant.errors import ModelError
from assistant.training.data import TrainingDataError, TrainingQuestion, read_questions, split_by_document
from assistant.training.encoder import EncoderRecipe, batches, train_adapter
from assistant.training.listing import ProvisionEntry
from assistant.training.ranker_fit import FEATURES, QuestionRows, choose_threshold, fit, measure


def entry(pid: str, source: str, article: str, paragraph: str, text: str) -> ProvisionEntry:
    return ProvisionEntry(
        pid, source, article, paragraph, f"Art. {article}", f"{source} — Article {article}", text, True
    )


LISTING = {
    e.id: e
    for e in [
        entry(
            "TEU:42:7:a",
            "TEU",
            "42",
            "7",
            "If a Member State is the victim of armed aggression on its territory, the "
            "other Member States shall have towards it an obligation of aid and assistance.",
        ),  # fmt: skip
        entry(
            "TEU:42:6:b",
            "TEU",
            "42",
            "6",
            "Member States whose military capabilities fulfil higher criteria shall "
            "establish permanent structured cooperation within the Union framework.",
        ),  # fmt: skip
        entry(
            "TEU:31:1:c",
            "TEU",
            "31",
            "1",
            "Decisions under this Chapter shall be taken by the European Council and "
            "the Council acting unanimously, except where the Chapters provide otherwise.",
        ),  # fmt: skip
        entry("ACT:1:-:d", "ACT", "1", "", "The mission shall have its headquarters in Brussels."),
        entry("ACT:2:-:e", "ACT", "2", "", "The mission shall end on 31 December 2027."),
    ]
}


def question(qid: str, provisions: list[str], text: str = "q?", answerable: bool = True) -> TrainingQuestion:
    return TrainingQuestion(qid, text, answerable, tuple(provisions), "what" if answerable else "opinion")


def write(tmp_path: Path, lines: list[dict | str]) -> Path:
    path = tmp_path / "q.jsonl"
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    return path


def test_training_questions_are_read_and_every_bad_line_is_named_with_its_file_and_line(tmp_path):
    good = {"id": "a", "question": "Who must help?", "answerable": True, "provisions": ["TEU:42:7:a"], "style": "who"}
    assert read_questions([write(tmp_path, [good])], LISTING)[0].provisions == ("TEU:42:7:a",)
    cases = [
        ("{not json", "not JSON"),
        ({**good, "style": "rhetorical"}, "unknown style"),
        ({**good, "provisions": ["TEU:99:1:zz"]}, "not in the corpus"),
        ({**good, "answerable": False}, "an unanswerable one none"),
        ({k: v for k, v in good.items() if k != "question"}, "missing question"),
        ({**good, "history": [{"role": "bot", "content": "x"}]}, "history"),
    ]
    for line, message in cases:
        with pytest.raises(TrainingDataError) as bad:
            read_questions([write(tmp_path, [good, {**line, "id": "b"} if isinstance(line, dict) else line])], LISTING)
        assert message in str(bad.value) and f"{tmp_path / 'q.jsonl'}:2" in str(bad.value)
    with pytest.raises(TrainingDataError, match="used twice"):
        read_questions([write(tmp_path, [good, good])], LISTING)


def test_a_follow_up_is_trained_on_with_the_question_it_follows():
    from assistant.training.data import Turn

    q = TrainingQuestion("f", "And who pays?", True, ("ACT:1:-:d",), "follow-up", (Turn("user", "What is EUTM?"),))
    assert q.searched == "What is EUTM? And who pays?"


def test_the_dev_split_holds_out_whole_documents_and_treaty_articles():
    questions = [
        question("1", ["TEU:42:7:a"]),
        question("2", ["TEU:42:6:b"]),
        question("3", ["TEU:31:1:c"]),
        question("4", ["ACT:1:-:d"]),
        question("5", ["ACT:2:-:e"]),
    ]
    train, dev = split_by_document(questions, LISTING, dev_share=0.34, seed=1)
    # three units (TEU:42, TEU:31, ACT); a third of them is one unit, held out with all its questions
    assert len(dev) in (1, 2) and len(train) + len(dev) == 5
    held = {u for q in dev for u in q.units(LISTING)}
    assert len(held) == 1
    assert not any(q.units(LISTING) & held for q in train)


def test_a_training_batch_never_holds_the_same_provision_twice():
    rows = [(f"q{i}", "p1" if i < 3 else f"p{i}", "text", "") for i in range(6)]
    for batch in batches(rows, size=4, seed=0):
        ids = [r[1] for r in batch]
        assert len(ids) == len(set(ids))
    assert sum(len(b) for b in batches(rows, size=4, seed=0)) == 6


def rows_of(scores: list[list[float]], labels: list[list[int]], answerable: list[bool]) -> list[QuestionRows]:
    out = []
    for n, (s, y, a) in enumerate(zip(scores, labels, answerable, strict=True)):
        features = np.zeros((len(s), len(FEATURES)))
        features[:, FEATURES.index("dense_best")] = s
        out.append(QuestionRows(question(str(n), ["TEU:42:7:a"] if a else [], answerable=a), features, np.array(y)))
    return out


def test_the_fitted_ranker_puts_the_answering_candidate_first_and_the_threshold_spares_answerable_questions():
    # the answering candidate always has the higher similarity: a fitted ranker must learn to put it first
    rows = rows_of(
        [[0.9, 0.2], [0.8, 0.3], [0.1, 0.7], [0.2, 0.6], [0.3, 0.2]],
        [[1, 0], [1, 0], [0, 1], [0, 1], [0, 0]],
        [True, True, True, True, False],
    )
    ranker = fit(rows, c=10.0)
    assert measure(ranker, rows).first == 1.0  # 4 of 4 answerable questions
    threshold = choose_threshold(ranker, rows, max_declined=0.0)
    metrics = measure(ranker, rows, threshold)
    assert metrics.answerable_declined == 0.0
    # the unanswerable question's best similarity (0.3) is below every answerable one's (0.6 and up): declined
    assert metrics.not_covered_declined == 1.0


def test_the_candidates_own_order_is_measured_without_a_ranker():
    rows = rows_of([[0.5, 0.4], [0.5, 0.4]], [[0, 1], [1, 0]], [True, True])
    assert measure(None, rows).first == 0.5


@pytest.mark.slow
def test_a_tiny_training_run_makes_an_adapter_that_loads_checked_and_changes_the_vectors(embedder, cache_dir, tmp_path):
    from assistant.embedding.embedder import LocalEmbedder
    from assistant.embedding.model_files import packaged_model_dir

    base = packaged_model_dir(cache_dir / "models")
    texts = [e.text for e in LISTING.values()]
    questions = [
        question(f"t{n}", [pid], text=f"{prefix} {LISTING[pid].text.split(',')[0].lower()}?")
        for n, (pid, prefix) in enumerate((pid, p) for pid in LISTING for p in ("What about", "Tell me about", "Is"))
    ]  # 15 questions, each with a hard negative from the same document: about 20 pairs in all
    out = tmp_path / "adapter"
    recipe = EncoderRecipe(epochs=1, batch_size=8, max_tokens=64, seed=3)
    stats = train_adapter(base, questions, LISTING, out, recipe, progress=lambda line: None)
    # five provisions, three questions each: a batch holds each provision once, so 3 batches of 5 (not 2 of 8)
    assert stats["pairs"] == 15 and stats["steps"] == 3
    assert (out / "adapter_model.safetensors").stat().st_size < 5_000_000  # an adapter, not a whole model
    write_sums(out)
    merged, weights = tuned_model_dir(tmp_path / "data", out)
    tuned = LocalEmbedder(merged, "tiny").embed_texts(texts)
    plain = LocalEmbedder(base, "plain").embed_texts(texts)
    assert not np.allclose(tuned, plain, atol=1e-4)
    # a damaged adapter file is refused in one line that names the fix
    (out / "adapter_model.safetensors").write_bytes(b"broken")
    with pytest.raises(ModelError) as damaged:
        verify_adapter(out)
    assert "does not match its sha256" in str(damaged.value) and "train" in str(damaged.value)
    (out / "adapter_config.json").unlink()
    with pytest.raises(ModelError, match="is missing"):
        verify_adapter(out)


@pytest.mark.slow
def test_the_dev_index_is_built_with_the_training_split_adapter_and_reused(small_settings, embedder, tmp_path):
    """`train all` and `train reader` measure dev questions on candidates from an index whose adapter never saw them:
    one made with an adapter trained on the training split only. The second recipe reuses what the first made."""
    from assistant.embedding.adapter import adapter_identity
    from assistant.index.generations import read_manifest
    from assistant.pipeline import Assistant
    from assistant.training.listing import list_provisions
    from assistant.training.workflow import Prepared, dev_index

    listing = {e.id: e for e in list_provisions(small_settings)}
    chosen = [e for e in listing.values() if e.source_id == "32019D0797" and len(e.text.split()) > 8][:6]
    assert len(chosen) == 6
    train = [
        question(f"t{n}-{i}", [e.id], text=f"{prefix} {' '.join(e.text.split()[:8])}?")
        for n, e in enumerate(chosen)
        for i, prefix in enumerate(("What about", "Tell me:"))
    ]
    data = Prepared(embedder, listing, train, train, [], [], 3)
    recipe = EncoderRecipe(epochs=1, batch_size=8, max_tokens=64, seed=3)
    said: list[str] = []
    work = tmp_path / "work"
    dev = dev_index(small_settings, data, work, recipe, said.append)
    manifest = read_manifest(dev)
    # the index records the training-split adapter, not the served one, and lives in the work folder
    assert manifest.model == adapter_identity(work / "adapter-train") != adapter_identity()
    assert dev.data_dir == work / "index" and dev.ranker == "rules"
    assert any(line.startswith("training an adapter on 12 questions") for line in said)
    with Assistant.from_settings(dev) as assistant:
        _, _, candidates = assistant.candidates(train[0].question, [])
    assert candidates and any(c.hit.chunk.source_id == "32019D0797" for c in candidates[:5])
    # the same questions and recipe again: the adapter is not trained again and the index is not rebuilt
    said.clear()
    again = dev_index(small_settings, data, work, recipe, said.append)
    assert any(line.startswith("reusing the adapter") for line in said)
    assert not any(line.startswith("training an adapter") for line in said)
    assert read_manifest(again).generation == manifest.generation
