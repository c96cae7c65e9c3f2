"""The evaluation splits never leak a test comment, or a near-copy of it, into training."""

from __future__ import annotations

import numpy as np
import pytest

from spamfilter import evaluate
from spamfilter.corpora import Dataset, assign_near_duplicate_groups

WORDS = ["apple", "river", "stone", "cloud", "maple", "tiger", "lemon", "ocean", "piano", "candle", "garden", "rocket"]


def _dataset() -> Dataset:
    """Three small corpora written for this test; one spam is copied under every video."""
    ds = Dataset()
    sites = ["alpha", "bravo", "charlie", "delta", "echo"]  # letters: near-duplicate keys ignore digits
    for corpus, sources in (("youtube_uci", ["psy", "katy", "eminem"]), ("sms", [""]), ("blog_seed", sites)):
        for source in sources:
            for i in range(12):
                spam = i % 3 == 0
                word = WORDS[i]  # near-duplicate detection ignores digits: texts differ by words
                text = f"win a free {word} prize now {source}" if spam else f"nice song, {word} {source} {corpus}"
                if corpus == "youtube_uci" and i == 0:
                    text = "subscribe to my channel for free gift cards"  # the same spam under every video
                ds.add({"content": text}, int(spam), corpus, f"{corpus}:{source}:{i}", f"{corpus}:{source}")
    assign_near_duplicate_groups(ds)
    return ds


def test_splits_keep_test_rows_and_their_near_copies_out_of_training() -> None:
    ds = _dataset()
    groups, corpus, sources = np.asarray(ds.groups), np.asarray(ds.corpus), np.asarray(ds.sources)
    found = {e.name: e for e in evaluate.evaluations(ds)}
    assert set(found) == {"youtube_uci", "sms", "blog_seed", "loco:youtube_uci", "loco:sms", "loco:blog_seed"}
    assert len(found["youtube_uci"].folds) == 3  # leave-one-video-out
    assert "leave-one-source-out" in found["youtube_uci"].method
    for evaluation in found.values():
        tested = np.concatenate([test for _, test in evaluation.folds])
        assert sorted(tested) == sorted(np.flatnonzero(corpus == evaluation.corpus))  # every row tested once
        for train, test in evaluation.folds:
            assert not set(groups[train]) & set(groups[test])
            if evaluation.name == "youtube_uci":
                assert len(set(sources[test])) == 1 and sources[test][0] not in set(sources[train])
            if evaluation.name.startswith("loco:"):
                assert evaluation.corpus not in set(corpus[train])
            else:
                assert set(corpus[train]) == {evaluation.corpus}


def test_unknown_evaluation_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown evaluation"):
        evaluate.evaluations(_dataset(), ["loco:nope"])


def test_intervals_bracket_the_point_figures() -> None:
    rng = np.random.default_rng(1)
    y = np.array([0] * 300 + [1] * 100)
    scores = np.clip(y * 0.6 + rng.normal(0.2, 0.15, len(y)), 0, 1)
    figures = evaluate.with_intervals(y, scores, 0.5, resamples=200)
    for name, f in figures.items():
        assert f["low"] <= f["value"] <= f["high"], name
    assert figures["roc_auc"]["value"] > 0.95
