"""The shipped model loads only when its metadata vouches for it, and scores sensibly."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from spamfilter import model as model_io
from spamfilter.config import DEFAULT_MODEL_PATH
from spamfilter.errors import ModelError


@pytest.fixture
def model_copy(tmp_path: Path) -> Path:
    target = tmp_path / "m.joblib"
    shutil.copy(DEFAULT_MODEL_PATH, target)
    shutil.copy(model_io.metadata_path(DEFAULT_MODEL_PATH), model_io.metadata_path(target))
    return target


def _edit_metadata(path: Path, **changes: object) -> None:
    meta_path = model_io.metadata_path(path)
    meta = json.loads(meta_path.read_text())
    meta.update(changes)
    meta_path.write_text(json.dumps(meta))


def test_shipped_model_metadata_names_corpora_scores_and_threshold() -> None:
    meta = json.loads(model_io.metadata_path(DEFAULT_MODEL_PATH).read_text())
    assert {c["name"] for c in meta["corpora"]} >= {"youtube_uci", "sms_spam_collection", "instagram_scamspot"}
    assert all(len(c["sha256"]) == 64 for c in meta["corpora"])
    assert 0 < meta["threshold"] <= meta["discard_threshold"] < 1
    assert meta["scores"]["per_corpus"]["sms_spam_collection"]["roc_auc"] > 0.9


def test_loads_and_scores(model_copy: Path) -> None:
    m = model_io.load(model_copy)
    spam, ham = m.score(
        [
            {"content": "WIN a FREE iPhone!!! claim now at www.free-prize-winner.xyz, text 0800 555 0100"},
            {"content": "Could you share the SQL for the second query? Mine returns duplicates."},
        ],
        reasons=3,
    )
    assert spam.score > ham.score
    assert 0 <= ham.score <= 1 and 0 <= spam.score <= 1
    assert len(spam.reasons) == 3 and spam.reasons[0].weight > 0


def test_refuses_altered_file(model_copy: Path) -> None:
    with model_copy.open("ab") as f:
        f.write(b"\0")
    with pytest.raises(ModelError, match="sha256"):
        model_io.load(model_copy)


def test_refuses_other_sklearn_version(model_copy: Path) -> None:
    _edit_metadata(model_copy, sklearn_version="0.0.1")
    with pytest.raises(ModelError, match=r"scikit-learn 0\.0\.1"):
        model_io.load(model_copy)


def test_refuses_other_feature_set(model_copy: Path) -> None:
    _edit_metadata(model_copy, meta_features=["links"])
    with pytest.raises(ModelError, match="metadata features"):
        model_io.load(model_copy)


def test_refuses_missing_metadata(model_copy: Path) -> None:
    model_io.metadata_path(model_copy).unlink()
    with pytest.raises(ModelError, match="missing"):
        model_io.load(model_copy)


def test_refuses_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        model_io.load(tmp_path / "none.joblib")
