"""Feature extraction as scikit-learn transformers.

The pipeline's input is a list of *records*: plain dicts with the comment fields
named in :data:`RECORD_FIELDS` (missing or empty means absent). Training rows from
the corpora and live Akismet requests are turned into the same records, so training
and serving run exactly this code.

Every metadata feature is 0 when its field is absent. The public corpora carry
little metadata, so a feature that is always absent in training gets no weight
instead of a spurious one; it starts to count once moderator labels that carry
the field are trained on.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer

from .text import CleanText, clean, url_domain

Record = Mapping[str, str]

RECORD_FIELDS = (
    "content",
    "author",
    "email",
    "url",
    "user_agent",
    "referrer",
    "user_ip",
    "comment_type",
    "permalink",
    "blog",
)

_AUTOMATED_UA = re.compile(
    r"curl|wget|python|java/|go-http|libwww|httpclient|okhttp|scrapy|\bbot\b|spider|crawler|headless", re.I
)
_COMMENT_TYPES = ("trackback", "pingback", "contact-form", "signup", "message", "forum-post", "reply")


@dataclass(frozen=True, slots=True)
class Prepared:
    """One record after text cleaning; what the feature transformers read."""

    text: str
    author: str
    clean: CleanText
    record: Record


def prepare(record: Record) -> Prepared:
    cleaned = clean(record.get("content") or "")
    return Prepared(text=cleaned.text, author=(record.get("author") or "").lower(), clean=cleaned, record=record)


class Stateless(BaseEstimator, TransformerMixin):
    """A transformer that learns nothing, so it is fitted from the start."""

    def fit(self, X: object, y: object = None) -> Stateless:
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return True


class Prepare(Stateless):
    """Clean each record once, for all the feature transformers after it."""

    def transform(self, X: Sequence[Record]) -> list[Prepared]:
        return [prepare(r) for r in X]


class Select(Stateless):
    """Pick one string attribute of :class:`Prepared` for a text vectorizer."""

    def __init__(self, field: str = "text") -> None:
        self.field = field

    def transform(self, X: Sequence[Prepared]) -> list[str]:
        return [getattr(p, self.field) for p in X]

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return np.array([self.field], dtype=object)


def _share(n: int, cap: int = 3) -> float:
    return min(n, cap) / cap


# Both cached: a site's visitors come back and share a few browsers, and each test costs
# 15 µs (ipaddress checks a dozen networks; the pattern scans the whole user agent). Only
# short values are cached, so a flood of huge fields cannot pin memory in the cache.
def _is_private_ip(value: str) -> bool:
    value = value.strip()
    return len(value) <= 64 and _is_private_ip_cached(value)


@lru_cache(maxsize=65_536)
def _is_private_ip_cached(value: str) -> bool:
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return False
    return ip.is_private or ip.is_loopback or ip.is_reserved


def _automated_ua(ua: str) -> bool:
    if len(ua) > 512:
        return bool(_AUTOMATED_UA.search(ua))
    return _automated_ua_cached(ua)


@lru_cache(maxsize=4096)
def _automated_ua_cached(ua: str) -> bool:
    return bool(ua) and bool(_AUTOMATED_UA.search(ua))


def meta_row(p: Prepared) -> dict[str, float]:
    c, r = p.clean, p.record
    domains = {url_domain(u) for u in c.urls}
    author_url = (r.get("url") or "").strip()
    author_domain = url_domain(author_url) if author_url else ""
    email = (r.get("email") or "").strip()
    ua = (r.get("user_agent") or "").strip()
    referrer = (r.get("referrer") or "").strip()
    blog = (r.get("blog") or "").strip()
    ctype = (r.get("comment_type") or "").strip().lower()
    letters_known = len(c.text) >= 10
    row = {
        "links": math.log1p(len(c.urls)),
        "link_domains": math.log1p(len(domains)),
        "markup_links": math.log1p(c.html_links),
        "emails_in_text": _share(c.emails),
        "phones_in_text": _share(c.phones),
        "money_in_text": _share(c.money),
        "empty_text": float(not c.text),
        "short_text": float(0 < len(c.text) < 20),
        "upper_ratio": c.upper_ratio if letters_known else 0.0,
        "exclamations": math.log1p(c.text.count("!")),
        "author_url": float(bool(author_url)),
        "author_url_in_text": float(bool(author_domain) and author_domain in domains),
        "author_url_deep": float(author_url.rstrip("/").count("/") > 2),
        "author_email": float(bool(email)),
        "email_digits": float(sum(ch.isdigit() for ch in email.split("@")[0]) >= 3),
        "author_digits": float(any(ch.isdigit() for ch in p.author)),
        # Retired, always 0: "four words or more" learned +5.7 from the seed corpus's business-name
        # spammers and flagged real people (many Vietnamese names have four parts). The column stays so models
        # trained with it still load (a model's width is fixed), and they stop using it too.
        "author_long": 0.0,
        "ua_automated": float(_automated_ua(ua)),
        "referrer_offsite": float(bool(referrer and blog) and url_domain(referrer) != url_domain(blog)),
        "ip_private": float(_is_private_ip(r.get("user_ip") or "")),
    }
    for t in _COMMENT_TYPES:
        row[f"type_{t}"] = float(ctype == t)
    return row


META_NAMES: tuple[str, ...] = tuple(meta_row(prepare({})).keys())


class OptionalTfidf(TfidfVectorizer):
    """TF-IDF over a field that may be empty in every training row (no corpus has it).

    Plain TfidfVectorizer refuses an empty vocabulary (no values, or none frequent
    enough for ``min_df``); this one then yields no columns.
    """

    def fit_transform(self, raw_documents: Sequence[str], y: object = None) -> sparse.csr_matrix:
        self.empty_ = False
        try:
            return super().fit_transform(raw_documents, y)
        except ValueError:  # empty vocabulary
            self.empty_ = True
            return sparse.csr_matrix((len(raw_documents), 0), dtype=self.dtype)

    def fit(self, raw_documents: Sequence[str], y: object = None) -> OptionalTfidf:
        self.fit_transform(raw_documents, y)
        return self

    def transform(self, raw_documents: Sequence[str]) -> sparse.csr_matrix:
        if self.empty_:
            return sparse.csr_matrix((len(raw_documents), 0), dtype=self.dtype)
        return super().transform(raw_documents)

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return np.array([], dtype=object) if self.empty_ else super().get_feature_names_out(input_features)

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "empty_")


class LogCountRatio(BaseEstimator, TransformerMixin):
    """Scale each column by how much more of spam's weight than of ham's it holds: the naive
    Bayes log-count ratio of NBSVM (Wang and Manning, 2012), softened by ``power``.

    Logistic regression's penalty treats every n-gram alike, so a phrase seen in a handful of
    spam competes with one seen in hundreds; the ratio is a prior from the counts that lets the
    penalty shrink the uninformative ones first. Naive Bayes was ahead of the plain model on
    spam caught at the lowest false-positive rates, and this takes that strength without its
    independence assumption. A column's scale is fixed after fitting, so the model stays linear
    in the TF-IDF values (scoring multiplies them by ``scale_``). Word n-grams only: on the
    character n-grams it cost AUC on corpora never trained on.

    Every row counts once here, moderator labels too (a Pipeline passes ``sample_weight`` only
    to its last step, where their extra weight does apply). The ratios see all training rows
    before the calibrator's folds; measured calibration did not suffer (Brier score within 0.002).
    """

    def __init__(self, alpha: float = 0.1, power: float = 0.35) -> None:
        self.alpha = alpha  # added to each class's column sums, so an n-gram seen in one class is finite
        # 1 is NBSVM's ratio; below 1 pulls the scales towards each other. 0.5 and 1 caught more
        # spam within each corpus but less at <=0.1% ham blocked over all corpora mixed (44.5%
        # and 38.7% against 48.0% at 0.35, in the shipped model's cross-validation).
        self.power = power

    def fit(self, X: sparse.spmatrix, y: Sequence[int]) -> LogCountRatio:
        X, labels = sparse.csr_matrix(X), np.asarray(y)
        if not (labels == 1).any() or not (labels == 0).any():
            raise ValueError("LogCountRatio needs both spam (1) and ham (0) rows")
        # TF-IDF values are never negative, so each column's sum is its weight in that class.
        spam = self.alpha + np.asarray(X[labels == 1].sum(axis=0), dtype=np.float64).ravel()
        ham = self.alpha + np.asarray(X[labels == 0].sum(axis=0), dtype=np.float64).ravel()
        ratio = np.log(spam / spam.sum()) - np.log(ham / ham.sum())
        self.scale_ = np.sign(ratio) * np.abs(ratio) ** self.power
        return self

    def transform(self, X: sparse.spmatrix) -> sparse.csr_matrix:
        X = sparse.csr_matrix(X)
        return X @ sparse.diags(self.scale_.astype(X.dtype))

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return np.asarray(input_features, dtype=object)


class MetaFeatures(Stateless):
    """Link, contact, author and request metadata as a few scaled numbers."""

    def transform(self, X: Sequence[Prepared]) -> sparse.csr_matrix:
        rows = [list(meta_row(p).values()) for p in X]
        return sparse.csr_matrix(np.asarray(rows, dtype=np.float64).reshape(len(rows), len(META_NAMES)))

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return np.array(META_NAMES, dtype=object)
