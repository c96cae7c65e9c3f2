"""Labelled data sets as model records, with groups that keep near-duplicates together.

A corpus is a folder holding ``data.csv`` (``id,text,label[,author,date,group]``) or,
for the seed corpus written for this project, several such CSV files (with extra
``email``, ``url``, ``site`` and ``genre`` columns). Rows become the same records the
server builds from a request (see :mod:`spamfilter.features`).
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .features import Record

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CORPORA = REPO.parent / "shared" / "corpora"
SEED_DIR = REPO / "data" / "seed"
SEED_NAME = "blog_seed"

csv.field_size_limit(10**8)


@dataclass
class Dataset:
    records: list[Record] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)  # 1 = spam
    corpus: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)  # near-duplicates share a group
    sources: list[str] = field(default_factory=list)  # video, account or site, where known
    weights: list[float] = field(default_factory=list)  # training weight of each row
    holdout_keys: list[str] = field(default_factory=list)  # decides the fixed evaluation slice

    @property
    def y(self) -> np.ndarray:
        return np.asarray(self.labels, dtype=np.int8)

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: Iterable[int]) -> Dataset:
        idx = list(index)
        return Dataset(
            [self.records[i] for i in idx],
            [self.labels[i] for i in idx],
            [self.corpus[i] for i in idx],
            [self.groups[i] for i in idx],
            [self.sources[i] for i in idx],
            [self.weights[i] for i in idx],
            [self.holdout_keys[i] for i in idx],
        )

    def extend(self, other: Dataset) -> None:
        self.records += other.records
        self.labels += other.labels
        self.corpus += other.corpus
        self.groups += other.groups
        self.sources += other.sources
        self.weights += other.weights
        self.holdout_keys += other.holdout_keys

    def add(self, record: Record, label: int, corpus: str, group: str, source: str, weight: float = 1.0) -> None:
        self.records.append(record)
        self.labels.append(label)
        self.corpus.append(corpus)
        self.groups.append(group)
        self.sources.append(source)
        self.weights.append(weight)
        self.holdout_keys.append(holdout_key(corpus, record.get("content") or "", group))

    def split(self, percent: int) -> tuple[Dataset, Dataset]:
        """(training rows, the fixed evaluation slice of about ``percent``% that no model trains on)."""
        held = [in_holdout(k, percent) for k in self.holdout_keys]
        return (
            self.subset(i for i, h in enumerate(held) if not h),
            self.subset(i for i, h in enumerate(held) if h),
        )


@dataclass(frozen=True)
class CorpusInfo:
    name: str
    files: tuple[str, ...]
    sha256: str  # of the files' bytes, in name order
    rows: int
    spam: int

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "files": list(self.files),
            "sha256": self.sha256,
            "rows": self.rows,
            "spam": self.spam,
            "ham": self.rows - self.spam,
        }


def _label(value: str) -> int:
    value = value.strip().lower()
    if value not in {"spam", "ham"}:
        raise ValueError(f"label must be spam or ham, not {value!r}")
    return int(value == "spam")


def corpus_files(folder: Path) -> list[Path]:
    data = folder / "data.csv"
    return [data] if data.is_file() else sorted(folder.glob("*.csv"))


def load_corpus(folder: Path, name: str | None = None) -> tuple[Dataset, CorpusInfo]:
    """Read one corpus folder into records (``group`` or ``site`` column = its source)."""
    name = name or folder.name
    files = corpus_files(folder)
    if not files:
        raise FileNotFoundError(f"no data.csv or *.csv in {folder}")
    digest = hashlib.sha256()
    ds = Dataset()
    for path in files:
        digest.update(path.read_bytes())
        with path.open(newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                record = {
                    "content": row.get("text") or "",
                    "author": row.get("author") or "",
                    "email": row.get("email") or "",
                    "url": row.get("url") or "",
                }
                source = f"{name}:{row.get('group') or row.get('site') or ''}"
                ds.add(record, _label(row["label"]), name, f"{name}:{path.stem}:{row['id']}", source)
    assign_near_duplicate_groups(ds)
    info = CorpusInfo(name, tuple(p.name for p in files), digest.hexdigest(), len(ds), sum(ds.labels))
    return ds, info


def load_all(corpora_dir: Path = DEFAULT_CORPORA, seed_dir: Path | None = SEED_DIR) -> tuple[Dataset, list[CorpusInfo]]:
    """Every corpus under ``corpora_dir`` plus the seed corpus, if present."""
    if not corpora_dir.is_dir():
        raise FileNotFoundError(f"corpora folder {corpora_dir} does not exist")
    folders = [(p, p.name) for p in sorted(corpora_dir.iterdir()) if p.is_dir() and corpus_files(p)]
    if seed_dir is not None and seed_dir.is_dir() and corpus_files(seed_dir):
        folders.append((seed_dir, SEED_NAME))
    full, infos = Dataset(), []
    for folder, name in folders:
        ds, info = load_corpus(folder, name)
        full.extend(ds)
        infos.append(info)
    return full, infos


_NOT_LETTER = re.compile(r"[\W\d_]+")


def holdout_key(corpus: str, text: str, fallback: str) -> str:
    """A key that near-duplicate texts share, stable as data is added (unlike group roots)."""
    keys = fingerprints(text)
    return f"{corpus}:{keys[-1]}" if keys else fallback


def in_holdout(key: str, percent: int) -> bool:
    return int(hashlib.sha1(key.encode()).hexdigest()[:8], 16) % 100 < percent


def fingerprints(text: str) -> tuple[str, ...]:
    """Keys that near-duplicate texts share: letters only, and the first 40 of them."""
    letters = _NOT_LETTER.sub("", text.lower())
    if not letters:
        return ()
    return (letters, "p:" + letters[:40]) if len(letters) >= 40 else (letters,)


def assign_near_duplicate_groups(ds: Dataset) -> None:
    """Merge groups that share a near-duplicate text, so no split can separate them.

    Sources (videos, accounts) are not merged: copy-pasted spam crosses them all and
    would fuse a corpus into one group.
    """
    parent: dict[str, str] = {}

    def find(g: str) -> str:
        while parent.setdefault(g, g) != g:
            parent[g] = parent[parent[g]]
            g = parent[g]
        return g

    owner: dict[str, str] = {}
    for record, group in zip(ds.records, ds.groups, strict=True):
        for key in fingerprints(record.get("content") or ""):
            if key in owner:
                a, b = find(owner[key]), find(group)
                if a != b:
                    parent[a] = b
            else:
                owner[key] = group
    ds.groups = [find(g) for g in ds.groups]
