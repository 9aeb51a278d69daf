import json
import math

import pytest

from assistant.answer.rank import (
    RANKER_FILE,
    RULE_WEIGHTS,
    SHARE_POWER,
    LearnedRanker,
    RulesRanker,
    load_ranker,
    make_ranker,
    save_ranker,
)
from assistant.answer.records import SIGNALS, Signals
from assistant.errors import ModelError


def test_the_rules_ranker_is_the_weighted_sum_of_the_features_it_knows():
    ranker = RulesRanker({"dense_best": 0.5, "background": -0.25})
    # 0.5 * 0.8 - 0.25 * 1 = 0.15; a feature it has no weight for adds nothing
    assert ranker.scores([Signals(dense_best=0.8, background=1.0, passage=9.0)]) == [pytest.approx(0.15)]
    assert ranker.answers(0.15) is None  # a weighted sum is no probability
    assert ranker.share(0.3, 0.4) == pytest.approx(0.75) and ranker.share(0.3, 0.0) == 0.0


def test_the_learned_ranker_is_a_logistic_regression_over_standardised_features():
    ranker = LearnedRanker(("lexical", "focus"), (1.0, 0.0), (2.0, 1.0), (1.0, -1.0), 0.5, threshold=0.6)
    # z = 0.5 + 1 * (3 - 1) / 2 - 1 * (0.5 - 0) / 1 = 1.0
    (p,) = ranker.scores([Signals(lexical=3.0, focus=0.5)])
    assert p == pytest.approx(1 / (1 + math.exp(-1.0)))
    assert ranker.answers(p) is True  # 0.731 >= 0.6
    assert ranker.answers(0.59) is False
    # a probability a fifth of the best one's is compared as 0.2 ** SHARE_POWER: closer than the plain ratio says
    assert ranker.share(0.1, 0.5) == pytest.approx(0.2**SHARE_POWER) and ranker.share(0.1, 0.5) > 0.2


def test_a_saved_ranker_loads_back_and_a_damaged_one_is_one_line_naming_the_fix(tmp_path):
    ranker = LearnedRanker(("lexical",), (0.0,), (1.0,), (2.0,), -1.0, threshold=0.3)
    path = tmp_path / "ranker.json"
    save_ranker(ranker, path, {"dev": {"first": 0.8}})
    assert load_ranker(path) == ranker
    record = json.loads(path.read_text())
    record["model"]["coef"] = [3.0]  # changed without its checksum
    path.write_text(json.dumps(record))
    with pytest.raises(ModelError) as damaged:
        load_ranker(path)
    assert "does not match its sha256" in str(damaged.value) and "cfsp-assistant train" in str(damaged.value)
    assert "\n" not in str(damaged.value)
    with pytest.raises(ModelError, match="is missing"):
        load_ranker(tmp_path / "nothing.json")
    path.write_text("not json")
    with pytest.raises(ModelError, match="is not a ranker file"):
        load_ranker(path)
    # a ranker reading a feature the candidates do not have (a renamed one) is refused, not read as zeros
    save_ranker(LearnedRanker(("lexicall",), (0.0,), (1.0,), (2.0,), -1.0, threshold=0.3), path)
    with pytest.raises(ModelError, match=r"reads features no candidate has \(lexicall\)"):
        load_ranker(path)


def test_rule_weights_and_the_fitted_features_name_features_the_candidates_have():
    from assistant.training.ranker_fit import FEATURES

    assert set(RULE_WEIGHTS) <= set(SIGNALS) and set(FEATURES) <= set(SIGNALS)
    with pytest.raises(ModelError, match="features no candidate has: lexicall"):
        RulesRanker({"lexicall": 1.0})


def test_the_shipped_ranker_loads_with_its_checksum_and_reads_the_composer_features():
    ranker = load_ranker(RANKER_FILE)
    assert {"dense_best", "lexical", "background"} <= set(ranker.features)
    assert 0.0 < ranker.threshold < 1.0


def test_an_unknown_ranker_names_the_allowed_ones():
    with pytest.raises(ModelError, match="allowed: learned, reader, rules"):
        make_ranker("magic")
