"""From a model score and the request's explicit signals to Akismet's answer.

Rules come before the model because clients rely on them: Akismet's documented
test triggers, ``user_role=administrator`` as a whitelist, and a filled honeypot
field that only a bot can see.
"""

from __future__ import annotations

from dataclasses import dataclass

from .model import Model, Reason, Scored
from .params import Comment, is_true

SPAM_AUTHORS = frozenset({"viagra-test-123", "akismet-guaranteed-spam"})
SPAM_EMAILS = frozenset({"akismet-guaranteed-spam@example.com"})

SPAM, HAM, DISCARD = "spam", "ham", "discard"


@dataclass(frozen=True, slots=True)
class Verdict:
    verdict: str  # spam, ham or discard (blatant spam, safe to drop unseen)
    score: float  # the model's calibrated spam probability, whatever decided
    reasons: tuple[Reason, ...]
    rule: str | None = None  # set when a rule, not the model, decided

    @property
    def is_spam(self) -> bool:
        return self.verdict != HAM


def rule_for(comment: Comment) -> tuple[str, str] | None:
    """(verdict, rule) when an explicit signal decides, else None."""
    if comment.get("comment_author").strip().lower() in SPAM_AUTHORS:
        return SPAM, "test trigger: comment_author"
    if comment.get("comment_author_email").strip().lower() in SPAM_EMAILS:
        return SPAM, "test trigger: comment_author_email"
    if is_true(comment.get("test_discard")):
        return DISCARD, "test trigger: test_discard"
    roles = {r.strip().lower() for r in comment.get("user_role").split(",")}
    if "administrator" in roles:
        return HAM, "user_role=administrator"
    if comment.honeypot_filled:
        return SPAM, "honeypot field filled"
    return None


def decide(comment: Comment, scored: Scored, model: Model) -> Verdict:
    rule = rule_for(comment)
    if rule is not None:
        return Verdict(rule[0], scored.score, scored.reasons, rule[1])
    if scored.score >= model.discard_threshold:
        verdict = DISCARD
    elif scored.score >= model.threshold:
        verdict = SPAM
    else:
        verdict = HAM
    return Verdict(verdict, scored.score, scored.reasons)
