"""The reader (the cross-encoder trained here): a tiny real training run on about 20 pairs whose files load checked
through the serving path (ONNX, no torch), the shipped reader's checks, and how its probability enters the ranking."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from assistant.answer.rank import RULE_WEIGHTS
from assistant.answer.reader import (
    CONFIG,
    FILES,
    READER_DIR,
    Reader,
    candidate_text,
    read_config,
    reader_text,
    relevant_part,
    verify_reader,
)
from assistant.embedding.model_files import write_sums
from assistant.errors import ModelError
from assistant.training.reader_fit import Group, ReaderRecipe, question_group, train_reader
from assistant.training.reader_workflow import DevRow, choose_setting, declining, first_answers
from tests.test_training import LISTING, question


def test_a_group_holds_the_answering_candidate_first_then_hard_negatives():
    q = question("q1", ["TEU:42:7:a"], text="Must other countries help a country that is attacked?")
    group = question_group(q, [], LISTING, negatives=4)
    # nothing retrieved: the provision the question is tied to is still the positive, with no negatives to rank
    assert group is not None and group.labels == (1,)
    assert "armed aggression" in group.texts[0] and group.texts[0].startswith("TEU — Article 42")
    unanswerable = question("q2", [], text="Who will win the next election?", answerable=False)
    assert question_group(unanswerable, [], LISTING, negatives=4) is None


def test_the_reader_weighs_in_only_on_the_candidates_it_read():
    # the rules put a wrong provision first; the reader is sure of the second
    row = DevRow(True, (1.0, 0.9, 0.8), (0.1, 0.9, 0.95), (False, True, False))
    assert first_answers([row], read=0, weight=0.0) == 0.0  # the rules alone
    assert first_answers([row], read=2, weight=1.0) == 1.0  # 1.0 + 0.1 < 0.9 + 0.9
    # read 3: the third candidate's 0.8 + 0.95 = 1.75 stays below the second's 1.8
    assert first_answers([row], read=3, weight=1.0) == 1.0
    assert first_answers([row], read=3, weight=4.0) == 0.0  # 0.8 + 3.8 = 4.6 > 0.9 + 3.6 = 4.5
    unanswerable = DevRow(False, (1.0,), (0.05,), (False,))
    decided = declining([row, unanswerable], read=3)
    assert decided["threshold"] == pytest.approx(0.95) and decided["not_covered_declined"] == 1.0


def test_the_setting_served_reads_the_fewest_candidates_that_do_about_as_well_on_dev():
    tried = [
        {"read": 3, "weight": 0.25, "first": 0.570},
        {"read": 3, "weight": 0.5, "first": 0.555},
        {"read": 5, "weight": 0.25, "first": 0.573},  # the best, by less than READ_TOLERANCE (0.005)
        {"read": 8, "weight": 0.5, "first": 0.573},
    ]
    assert choose_setting(tried) == {"read": 3, "weight": 0.25, "first": 0.570}
    # further than the tolerance: the best is served, and between equals the one reading fewer
    assert choose_setting([*tried[1:], {"read": 3, "weight": 1.0, "first": 0.560}])["read"] == 5


def test_reader_text_puts_the_headings_first():
    assert reader_text("TEU — Article 42", "The policy shall ...") == "TEU — Article 42\nThe policy shall ..."
    assert reader_text("", "Only words.") == "Only words."


def test_a_long_provision_is_read_as_its_most_relevant_sentences_in_order_with_each_gap_marked():
    sentences = ["The Council shall act.", "It may ask the High Representative.", "It meets monthly.", "Staff help."]
    # 15 words; with room for 8: the best (6 words) and then the next best that still fits (2), in reading order
    assert relevant_part(sentences, [0.2, 0.9, 0.1, 0.6], 8) == "It may ask the High Representative. … Staff help."
    # the best always, even alone longer than the room
    assert relevant_part(sentences, [0.2, 0.9, 0.1, 0.6], 3) == "It may ask the High Representative."
    # adjacent sentences are not split by a mark; a gap before the last is
    assert relevant_part(sentences, [0.9, 0.8, 0.1, 0.7], 12) == (
        "The Council shall act. It may ask the High Representative. … Staff help."
    )
    # read whole: when it fits, with no room set (0), or without one score per sentence
    whole = " ".join(sentences)
    assert relevant_part(sentences, [0.2, 0.9, 0.1, 0.6], 15) == whole
    assert relevant_part(sentences, [0.2, 0.9, 0.1, 0.6], 0) == whole
    assert relevant_part(sentences, [0.9], 8) == whole


@pytest.mark.slow
def test_a_tiny_training_run_makes_a_reader_that_loads_checked_and_prefers_what_it_learned(cache_dir, tmp_path):
    from assistant.embedding.model_files import packaged_model_dir

    base = packaged_model_dir(cache_dir / "models")
    texts = {pid: reader_text(e.headings, e.text) for pid, e in LISTING.items()}
    ids = list(texts)
    # five provisions, each the answer to three wordings and a wrong answer to the others: 20 pairs a pass
    groups = [
        Group(f"{prefix} {LISTING[pid].text.split(',')[0].lower()}?", (texts[pid], texts[ids[(n + 1) % 5]]), (1, 0))
        for n, pid in enumerate(ids)
        for prefix in ("What about", "Tell me about")
    ]
    assert sum(len(g.texts) for g in groups) == 20
    out = tmp_path / "reader"
    recipe = ReaderRecipe(
        layers=2, max_tokens=64, candidates=3, questions_per_step=2, epochs=10, learning_rate=1e-3, precision="fp32"
    )
    stats = train_reader(base, groups, out, recipe, progress=lambda line: None)
    assert stats["steps"] == 50
    assert (out / "reader.safetensors").stat().st_size < 12_000_000  # two layers in fp16, no word embeddings
    assert read_config(out).layers == 2 and read_config(out).candidates == 3
    reader = Reader(tmp_path / "data", out)
    assert reader.candidates == 3
    right = [reader.probabilities(g.question, list(g.texts)) for g in groups]
    # it learned its 10 questions: the provision that answers scores above the other, by far on the whole
    assert sum(p[0] > p[1] for p in right) >= 8, right
    assert np.mean([p[0] for p in right]) - np.mean([p[1] for p in right]) > 0.3, right
    assert all(0.0 < float(v) < 1.0 for p in right for v in p)
    # a second reader over the same files uses the model folder and ONNX file already built
    again = Reader(tmp_path / "data", out)
    assert np.allclose(again.probabilities(groups[0].question, list(groups[0].texts)), right[0], atol=1e-5)
    # served from int8 weights when its settings say so: a file of its own, the same preferences
    quantised_dir = tmp_path / "reader-int8"
    shutil.copytree(out, quantised_dir)
    write_settings(quantised_dir, precision="int8")
    quantised = Reader(tmp_path / "data", quantised_dir)
    assert quantised.onnx_file.name == "model-int8.onnx" and reader.onnx_file.name == "model.onnx"
    close = [quantised.probabilities(g.question, list(g.texts)) for g in groups]
    assert sum(p[0] > p[1] for p in close) >= 8, close
    assert np.mean([p[0] for p in close]) - np.mean([p[1] for p in close]) > 0.3, close
    write_settings(quantised_dir, precision="fp16")
    with pytest.raises(ModelError, match="unknown precision 'fp16'.*train reader"):
        Reader(tmp_path / "data", quantised_dir)
    # a damaged or missing file is refused in one line that names the fix
    (out / "reader.safetensors").write_bytes(b"broken")
    with pytest.raises(ModelError) as damaged:
        Reader(tmp_path / "data", out)
    assert "does not match its sha256" in str(damaged.value) and "train reader" in str(damaged.value)
    (out / "reader.safetensors").unlink()
    with pytest.raises(ModelError, match="is missing"):
        verify_reader(out)


def write_settings(folder: Path, **changes: object) -> None:
    """Change the reader's settings file and record its new checksum (as a retraining would)."""
    settings = json.loads((folder / CONFIG).read_text(encoding="utf-8")) | changes
    (folder / CONFIG).write_text(json.dumps(settings), encoding="utf-8")
    write_sums(folder, FILES)


def test_the_shipped_reader_verifies_and_says_how_it_is_used():
    assert len(verify_reader(READER_DIR)) == 12
    config = read_config(READER_DIR)
    assert config.layers <= 6 and 1 <= config.candidates <= 20 and config.max_tokens <= 256
    assert (READER_DIR / "MODEL_CARD.md").is_file()
    size = sum(p.stat().st_size for p in Path(READER_DIR).iterdir())
    assert size < 25_000_000  # six layers in fp16 without the word embeddings
    # served as it was chosen on dev: how many candidates it reads, and its weight among the ranker's features
    chosen = json.loads((READER_DIR / "training.json").read_text(encoding="utf-8"))["dev_results"]["chosen"]
    assert config.candidates == chosen["read"] and RULE_WEIGHTS["reader"] == chosen["weight"]


def test_the_reader_reads_a_candidate_under_its_headings_with_its_best_sentences_when_long():
    from tests.test_answer_compose import candidate, chunk, only

    provision = only(
        chunk("The Council shall adopt the budget. The Committee may meet. The Director shall manage the staff.")
    )
    long = candidate(provision, scores=(0.2, 0.1, 0.9))
    heading = "Council Decision (CFSP) 2030/1 — Article 1"
    assert candidate_text(long, 0) == f"{heading}\n{provision.text}"  # from its start, as the first reader did
    assert candidate_text(long, 8) == f"{heading}\nThe Director shall manage the staff."
    # the next best (6 words) does not fit beside the best (6) in 11 words; the third (4) does, and is next to it
    assert candidate_text(long, 11) == f"{heading}\nThe Committee may meet. The Director shall manage the staff."
    assert candidate_text(long, 12) == (
        f"{heading}\nThe Council shall adopt the budget. … The Director shall manage the staff."
    )
