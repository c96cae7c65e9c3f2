"""Peer spam filters that the quality benchmark trains and tests on our exact splits.

A number for our model means little on its own: "AUC 0.97" is only impressive if
the classic filters people already run score lower on the *same* comments. Each
peer here wraps one such filter behind the small :class:`Peer` interface so that
``bench/quality.py`` can fit it on a training fold and rank a test fold exactly as
it does our model:

* :class:`NaiveBayesPeer` -- the textbook scikit-learn bag-of-words baseline.
* :class:`BogofilterPeer` -- Debian's ``bogofilter`` (Robinson/Fisher chi-square).
* :class:`SpamprobePeer` -- Debian's ``spamprobe`` (Graham-style, word pairs).
* :class:`Crm114Peer` -- Debian's ``crm114`` with the OSB Markovian classifier.

The external filters are mail filters, so comments are wrapped as minimal RFC 822
messages (see :func:`mail_message`) and handed over in bulk as one mbox (see
:func:`mbox`): one process per class for training and one for scoring, because a
process per comment would make a cross-validated benchmark on 10k comments take
many minutes. Each ``fit`` starts from a fresh temporary database so that folds
can never leak into each other. A peer whose program is absent says so through
``missing()`` and the benchmark skips it instead of failing.

All scores are in [0, 1]. Beyond the protocol, every peer here also has a
``threshold`` attribute: the tool's own spam cut on that scale with its default
settings (0.5 for naive Bayes and crm114, 0.99 for bogofilter, 0.7 for
spamprobe), for accuracy/MCC "as the tool would decide"; a fixed 0.5 cut would
call bogofilter's "unsure" band spam.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar, Protocol, runtime_checkable

import numpy as np

__all__ = [
    "BogofilterPeer",
    "Crm114Peer",
    "NaiveBayesPeer",
    "Peer",
    "SpamprobePeer",
    "all_peers",
    "clean_text",
    "mail_message",
    "mbox",
    "squash_pr",
]

# A generous ceiling for one external command: a 12k-comment fit takes seconds,
# so hitting this means the tool hung (e.g. waiting on a database lock), and the
# benchmark should fail loudly rather than sit forever.
COMMAND_TIMEOUT_S = 900

# crm114 gets all messages in one stream; they are separated by this ASCII
# "record separator", which clean_text() removes from the comments themselves.
_CRM_SEPARATOR = "\x1e"

# C0 control characters other than tab and newline: NUL truncates strings in the
# C tools, and the others (form feed, vertical tab, record separator...) either
# confuse mbox/line parsing or would collide with our own separator.
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_MBOX_FROM_LINE = re.compile(r"^(>*From )", re.MULTILINE)

# The envelope line that starts every message of an mbox. The date is fixed so
# that the same comment always yields the same bytes (reproducible folds).
_ENVELOPE = "From comment@localhost Thu Jan  1 00:00:00 1970\n"
_HEADERS = (
    "From: comment@localhost\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: 8bit\n"
)


@runtime_checkable
class Peer(Protocol):
    """What the benchmark needs from a peer filter (our model is adapted the same way)."""

    name: str

    def missing(self) -> str | None:
        """None when the peer can run, else a human reason (shown, then the peer is skipped)."""
        ...

    def fit(self, texts: list[str], labels: list[int]) -> None:
        """Train from scratch on ``texts``; ``labels`` are 1 for spam and 0 for ham."""
        ...

    def score(self, texts: list[str]) -> np.ndarray:
        """One float per text, higher means spammier; a ranking, not just 0/1."""
        ...

    def close(self) -> None:
        """Remove temporary files; the peer may be fitted again afterwards."""
        ...


# --------------------------------------------------------------------------- text


def clean_text(text: object) -> str:
    """Make a comment safe to hand to C mail filters, keeping its words intact.

    Comments arrive from CSV files and web forms, so they may be None or NaN,
    use CR/LF or bare CR line ends, carry NUL and other control characters, or
    contain lone surrogates that cannot be encoded. Mail tools split on LF,
    stop at NUL, and would choke on invalid UTF-8, so all of that is normalised
    here; every peer (the scikit-learn one included) sees the same cleaned
    text, which keeps the comparison fair.
    """
    if text is None or (isinstance(text, float) and text != text):  # None or NaN
        return ""
    value = text if isinstance(text, str) else str(text)
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = _CONTROL_CHARS.sub(" ", value)
    # Lone surrogates (from broken JSON or CSV decoding) cannot be written as UTF-8.
    return value.encode("utf-8", "replace").decode("utf-8")


def mail_message(text: object) -> str:
    """Wrap one comment as a minimal RFC 822 message, ready to append to an mbox.

    The headers are the same for every comment, so they carry no signal either
    way; only the body differs. There is no Subject: a comment has none, and a
    constant empty one would only add noise tokens. Body lines that begin with
    ``From `` (optionally after ``>``) get one more ``>`` (the "mboxrd"
    convention) so that a comment starting a line with "From my experience..."
    cannot split the mbox into two messages. The message ends with a blank
    line, which bogofilter's mbox reader relies on.
    """
    body = _MBOX_FROM_LINE.sub(r">\1", clean_text(text))
    if not body.endswith("\n"):
        body += "\n"
    return f"{_ENVELOPE}{_HEADERS}\n{body}\n"


def mbox(texts: Sequence[object]) -> bytes:
    """All comments as one mbox file's bytes (UTF-8), one message per comment, in order."""
    return "".join(mail_message(text) for text in texts).encode("utf-8")


def _check_training_data(texts: Sequence[object], labels: Sequence[int]) -> list[int]:
    """Validate labels once for every peer, so a bad split fails the same clear way everywhere."""
    if len(texts) != len(labels):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
    ints = [int(label) for label in labels]
    if set(ints) - {0, 1}:
        raise ValueError(f"labels must be 0 (ham) or 1 (spam), got {sorted(set(ints) - {0, 1})}")
    if 0 not in ints or 1 not in ints:
        # A filter trained on one class gives meaningless scores (and crm114 has no
        # statistics file to compare against), so refuse instead of returning noise.
        raise ValueError("training data needs both spam (1) and ham (0) examples")
    return ints


# --------------------------------------------------------------------------- naive Bayes


class NaiveBayesPeer:
    """scikit-learn ``CountVectorizer()`` + ``MultinomialNB()`` with default settings.

    This is the baseline every text-classification tutorial starts from; if our
    model cannot beat it, the extra machinery is not paying for itself.
    """

    threshold = 0.5  # predict()'s cut for two classes

    def __init__(self) -> None:
        try:
            import sklearn
        except ImportError:
            self.name = "naive Bayes (scikit-learn)"
        else:
            self.name = f"naive Bayes (scikit-learn {sklearn.__version__})"
        self._pipeline: object | None = None

    def missing(self) -> str | None:
        """scikit-learn is a dependency of the project, so this is only a safety net."""
        try:
            import sklearn  # noqa: F401
        except ImportError:
            return "scikit-learn not installed: pip install scikit-learn"
        return None

    def fit(self, texts: list[str], labels: list[int]) -> None:
        """Fit a fresh pipeline (never reuses the previous fold's vocabulary)."""
        from sklearn.feature_extraction.text import CountVectorizer
        from sklearn.naive_bayes import MultinomialNB
        from sklearn.pipeline import make_pipeline

        ints = _check_training_data(texts, labels)
        pipeline = make_pipeline(CountVectorizer(), MultinomialNB())
        pipeline.fit([clean_text(text) for text in texts], ints)
        self._pipeline = pipeline

    def score(self, texts: list[str]) -> np.ndarray:
        """P(spam) from ``predict_proba``; column 1 is class 1 because classes_ is sorted."""
        if self._pipeline is None:
            raise RuntimeError(f"{self.name}: score() called before fit()")
        if not texts:
            return np.zeros(0, dtype=np.float64)
        proba = self._pipeline.predict_proba([clean_text(text) for text in texts])  # type: ignore[attr-defined]
        return np.asarray(proba[:, 1], dtype=np.float64)

    def close(self) -> None:
        """Nothing on disk; just drop the model."""
        self._pipeline = None


# --------------------------------------------------------------------------- external tools


class _ExternalPeer:
    """Shared plumbing for peers that run a command-line filter on a temp database.

    Subclasses set ``program`` (the executable looked up on PATH) and
    ``package`` (the Debian package that provides it).
    """

    program: str = ""
    package: str = ""
    label: str = ""
    # How to ask the tool its version, for the peer's name (results differ between versions).
    version_flag: str = "-V"
    version_pattern: re.Pattern[str] = re.compile(r"version\s+(\S+)")
    # What a NaN in the tool's output is replaced with: "no opinion" on its own scale.
    neutral_score: float = 0.5
    # The tool's own spam cut on the scale score() returns (its default settings).
    threshold: float = 0.5

    def __init__(self) -> None:
        self._workdir: Path | None = None
        self._finalizer: weakref.finalize | None = None
        self._fitted = False
        version = self._version() if shutil.which(self.program) else None
        self.name = f"{self.label} {version}" if version else self.label

    # -- interface -----------------------------------------------------------

    def missing(self) -> str | None:
        """Name the apt package to install, since that is the only fix a user needs."""
        if shutil.which(self.program) is None:
            return f"{self.label} not installed ({self.program} not on PATH): apt-get install -y {self.package}"
        return None

    def close(self) -> None:
        """Delete the temp database; the next fit() makes a new one."""
        if self._finalizer is not None:
            self._finalizer()  # runs shutil.rmtree once, and detaches
        self._finalizer = None
        self._workdir = None
        self._fitted = False

    # -- helpers -------------------------------------------------------------

    def _version(self) -> str | None:
        """The installed tool's version, or None if it cannot be read."""
        try:
            out = subprocess.run(
                [self.program, self.version_flag], capture_output=True, text=True, timeout=30, check=False
            )
        except (OSError, subprocess.SubprocessError):
            return None
        match = self.version_pattern.search(out.stdout + out.stderr)
        return match.group(1) if match else None

    def _fresh_workdir(self) -> Path:
        """A new empty directory per fit, so no fold ever sees another fold's tokens."""
        self.close()
        path = Path(tempfile.mkdtemp(prefix=f"spamfilter-peer-{self.program}-"))
        # Also removed at interpreter exit or garbage collection if close() is forgotten.
        self._finalizer = weakref.finalize(self, shutil.rmtree, str(path), ignore_errors=True)
        self._workdir = path
        return path

    def _require_workdir(self) -> Path:
        if self._workdir is None:
            raise RuntimeError(f"{self.name}: no database yet, call fit() first")
        return self._workdir

    def _require_fit(self) -> Path:
        if not self._fitted or self._workdir is None:
            raise RuntimeError(f"{self.name}: score() called before fit()")
        return self._workdir

    def _env(self) -> dict[str, str]:
        """HOME points at the temp dir so no tool reads or writes the user's own databases."""
        env = dict(os.environ)
        if self._workdir is not None:
            env["HOME"] = str(self._workdir)
        env.setdefault("LC_ALL", "C.UTF-8")
        return env

    def _run(
        self, args: list[str], *, stdin: bytes | None = None, ok_codes: tuple[int, ...] = (0,)
    ) -> subprocess.CompletedProcess[bytes]:
        """Run one command, and fail with the tool's own error text if it misbehaves."""
        try:
            result = subprocess.run(
                args,
                input=stdin if stdin is not None else b"",
                capture_output=True,
                cwd=self._workdir,
                env=self._env(),
                timeout=COMMAND_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise RuntimeError(f"{self.name}: {' '.join(args)} timed out after {COMMAND_TIMEOUT_S}s") from exc
        if result.returncode not in ok_codes:
            stderr = result.stderr.decode("utf-8", "replace").strip()[-2000:]
            raise RuntimeError(f"{self.name}: {' '.join(args)} exited with {result.returncode}: {stderr}")
        return result

    def _run_on_mbox(
        self, name: str, texts: Sequence[object], args: list[str], ok_codes: tuple[int, ...] = (0,)
    ) -> subprocess.CompletedProcess[bytes]:
        """Run ``args`` + the path of ``texts`` written as one mbox in the work dir (removed after)."""
        path = self._require_workdir() / name
        path.write_bytes(mbox(texts))
        try:
            return self._run([*args, str(path)], ok_codes=ok_codes)
        finally:
            path.unlink(missing_ok=True)

    def _parse_scores(self, lines: list[str], expected: int, pattern: re.Pattern[str]) -> np.ndarray:
        """One number per message, or a loud error: a silent off-by-one would corrupt the AUC."""
        scores = []
        for line in lines:
            match = pattern.search(line)
            if match:
                scores.append(float(match.group(1)))
        if len(scores) != expected:
            sample = "\n".join(lines[:5])
            raise RuntimeError(
                f"{self.name}: expected {expected} scores, parsed {len(scores)}; output began:\n{sample}"
            )
        array = np.asarray(scores, dtype=np.float64)
        return np.nan_to_num(array, nan=self.neutral_score)


class BogofilterPeer(_ExternalPeer):
    """Debian's ``bogofilter`` with its default parameters, trained on every message.

    * fit: ``bogofilter -C -d DIR --db-transaction=no -y 0 -M -s -I spam.mbox``,
      then the same with ``-n`` for ham (one process per class registers a
      whole mbox).
    * score: ``bogofilter -C -d DIR --db-transaction=no -M -TT -I test.mbox``
      prints the spamicity of each message with 16 significant digits, one
      line per message.

    ``-C`` ignores ``/etc/bogofilter.cf`` and ``~/.bogofilter.cf`` so results do not
    depend on the machine; ``-y 0`` turns off token timestamps (they only serve
    database pruning). Transactions are switched off because the database is a
    throw-away file written by a single process, which makes training faster.
    """

    program = "bogofilter"
    package = "bogofilter"
    label = "bogofilter"
    threshold = 0.99  # spam_cutoff; 0.45-0.99 is "unsure", and unseen-word comments get robx 0.52

    _SCORE = re.compile(r"^\s*([-+0-9.eE]+|nan|inf)\s*$", re.IGNORECASE)

    def _base(self) -> list[str]:
        return [self.program, "-C", "-d", str(self._workdir), "--db-transaction=no"]

    def fit(self, texts: list[str], labels: list[int]) -> None:
        """Register all spam with ``-s`` and all ham with ``-n``, each as one mbox."""
        ints = _check_training_data(texts, labels)
        self._fresh_workdir()
        for flag, wanted in (("-s", 1), ("-n", 0)):
            wanted_texts = [text for text, label in zip(texts, ints, strict=True) if label == wanted]
            self._run_on_mbox(f"train{flag}.mbox", wanted_texts, [*self._base(), "-y", "0", "-M", flag, "-I"])
        self._fitted = True

    def score(self, texts: list[str]) -> np.ndarray:
        """Spamicity in [0, 1]; exit codes 0/1/2 mean spam/ham/unsure (of the last message), 3 is an error."""
        self._require_fit()
        if not texts:
            return np.zeros(0, dtype=np.float64)
        result = self._run_on_mbox("score.mbox", texts, [*self._base(), "-M", "-TT", "-I"], ok_codes=(0, 1, 2))
        lines = result.stdout.decode("utf-8", "replace").splitlines()
        return self._parse_scores(lines, len(texts), self._SCORE)


class SpamprobePeer(_ExternalPeer):
    """Debian's ``spamprobe``, trained on every message, scored in bulk.

    * fit: ``spamprobe -d DIR -Y -8 -Hnone -c spam spam.mbox`` and
      ``... -c good ham.mbox``.
    * score: ``spamprobe -d DIR -Y -8 -Hnone score test.mbox`` prints one
      ``SPAM|GOOD <score> <digest>`` line per message.

    ``spam``/``good`` (train on everything) rather than ``train-spam``/
    ``train-good`` (train only on "difficult" messages) because the latter
    depends on the order the messages arrive in, and a batch of all spam then
    all ham is the worst order for it (in practice, on short comments nearly
    every message counts as difficult and the AUC is the same to ~0.001);
    ``mode="train"`` selects those commands for comparison.

    ``-Hnone`` stops spamprobe from tokenising our synthetic headers: they are
    identical in every comment, yet with unbalanced classes spamprobe gives
    them a hammy probability and lets them fill its 15 "most significant
    words" slots of short comments (measured: +0.01 to +0.03 AUC without
    them). ``-8`` keeps non-ASCII characters explicitly (this build already
    keeps them for a UTF-8 body; others turn each into the letter "z").
    ``-Y`` ignores any Content-Length header. ``min_count`` passes ``-C``
    (default 5: rarer terms get a neutral probability, which hurts on short
    comments; ``min_count=1`` was +0.01 to +0.09 AUC on our corpora), left at
    spamprobe's default so the peer stays "as shipped". Note spamprobe
    recognises messages by an MD5 digest of their content, so duplicate
    comments are learned once.
    """

    program = "spamprobe"
    package = "spamprobe"
    label = "spamprobe"
    threshold = 0.7  # spamprobe's default -l

    version_pattern = re.compile(r"SpamProbe\s+v?(\S+)")
    _SCORE = re.compile(r"^(?:SPAM|GOOD)\s+([-+0-9.eE]+|nan|inf)\b", re.IGNORECASE)
    _MODES: ClassVar[dict[str, tuple[str, str]]] = {"all": ("spam", "good"), "train": ("train-spam", "train-good")}

    def __init__(self, mode: str = "all", min_count: int | None = None) -> None:
        if mode not in self._MODES:
            raise ValueError(f"mode must be one of {sorted(self._MODES)}, got {mode!r}")
        self.mode = mode
        self.min_count = min_count
        super().__init__()
        if min_count is not None:
            self.name += f" -C{min_count}"

    def _base(self) -> list[str]:
        args = [self.program, "-d", str(self._require_workdir() / "db"), "-Y", "-8", "-Hnone"]
        if self.min_count is not None:
            args.append(f"-C{self.min_count}")
        return args

    def fit(self, texts: list[str], labels: list[int]) -> None:
        """Train the spam mbox with ``spam`` and the ham mbox with ``good`` (or the train-* pair)."""
        ints = _check_training_data(texts, labels)
        self._fresh_workdir()
        spam_command, good_command = self._MODES[self.mode]
        for command, wanted in ((spam_command, 1), (good_command, 0)):
            wanted_texts = [text for text, label in zip(texts, ints, strict=True) if label == wanted]
            self._run_on_mbox(f"{command}.mbox", wanted_texts, [*self._base(), "-c", command])
        self._fitted = True

    def score(self, texts: list[str]) -> np.ndarray:
        """spamprobe's own spam probability for each message (7 decimals)."""
        self._require_fit()
        if not texts:
            return np.zeros(0, dtype=np.float64)
        result = self._run_on_mbox("score.mbox", texts, [*self._base(), "score"])
        lines = result.stdout.decode("utf-8", "replace").splitlines()
        return self._parse_scores(lines, len(texts), self._SCORE)


# One crm114 program learns every message of its input into one .css file; the
# other classifies every message against both files and prints the pR. Messages
# are separated by _CRM_SEPARATOR, so one process handles a whole fold. File
# names come in as named variables (--css=..., --spam=..., --ham=...) because
# positional :_argN: would shift with crm's own -w flag.
_CRM_LEARN = r"""
{
    match <fromend> (:m: :t:) /([^\x1e]*)\x1e/
    learn <osb unique microgroom> (:*:css:) [:t:]
    liaf
}
"""

_CRM_CLASSIFY = r"""
{
    match <fromend> (:m: :t:) /([^\x1e]*)\x1e/
    isolate (:s:) //
    {
        classify <osb unique microgroom> (:*:spam: | :*:ham:) (:s:) [:t:]
    }
    {
        match [:s:] (:: :pr:) /pR: *([^ \n]+)/
        output /pR :*:pr:\n/
    }
    liaf
}
"""


def squash_pr(pr: np.ndarray) -> np.ndarray:
    """Map crm114's pR (any real) into (0, 1), strictly increasing, with pR 0 -> 0.5.

    ``0.5 + 0.5 * pR / (|pR| + 1)`` rather than the logistic ``1 / (1 + 10**-pR)``:
    pR values of several hundred are common, and the logistic rounds all of them
    to exactly 1.0 in float64, which would turn the most confident spam into ties.
    """
    pr = np.nan_to_num(np.asarray(pr, dtype=np.float64), nan=0.0)  # +-inf -> +-max float, still finite
    return 0.5 + 0.5 * pr / (np.abs(pr) + 1.0)


class Crm114Peer(_ExternalPeer):
    """Debian's ``crm114`` with the recommended OSB classifier, trained on everything.

    * fit: ``crm -w N learn.crm --css=spam.css`` and ``--css=ham.css`` (run side by
      side, one per core), each reading all of its class's comments on stdin
      and running ``learn <osb unique microgroom>`` on every one.
    * score: ``crm -w N classify.crm --spam=spam.css --ham=ham.css`` runs
      ``classify <osb unique microgroom>`` on every comment and prints the pR
      (log10 likelihood ratio, spam over ham) of the first line of the
      statistics. The score is that pR through :func:`squash_pr`: in (0, 1)
      like the other peers, 0.5 at crm114's own cut (pR 0), and unlike the
      probability crm114 prints it does not round to exactly 0 or 1, so it
      still ranks confident messages.

    Comments are fed as plain text (crm114 needs no mail headers), separated by
    an ASCII record separator. TOE (train on everything) is used rather than
    mailtrainer.crm's train-on-error, for the same reason as spamprobe's.
    """

    program = "crm"
    package = "crm114"
    label = "crm114"

    _SCORE = re.compile(r"^pR\s+([-+0-9.eE]+|nan|-?inf)\s*$", re.IGNORECASE)
    version_flag = "-v"
    version_pattern = re.compile(r"version\s+(\d+)")
    neutral_score = 0.0  # the raw output is pR, a log-ratio
    threshold = 0.5  # = pR 0, crm114's own decision point

    @staticmethod
    def _stream(texts: Sequence[object]) -> bytes:
        """Messages joined by the separator; clean_text() guarantees they contain none."""
        return "".join(clean_text(text) + _CRM_SEPARATOR for text in texts).encode("utf-8")

    @staticmethod
    def _window_flag(data: bytes) -> list[str]:
        """crm114 reads stdin into a fixed 16 MB window by default; make room for big folds."""
        return ["-w", str(max(16 * 2**20, 2 * len(data) + 2**20))]

    def fit(self, texts: list[str], labels: list[int]) -> None:
        """Learn both classes concurrently: they are separate files, and the machine has 2 cores."""
        ints = _check_training_data(texts, labels)
        workdir = self._fresh_workdir()
        (workdir / "learn.crm").write_text(_CRM_LEARN)
        (workdir / "classify.crm").write_text(_CRM_CLASSIFY)
        jobs = []
        for css, wanted in (("spam.css", 1), ("ham.css", 0)):
            data = self._stream([text for text, label in zip(texts, ints, strict=True) if label == wanted])
            args = [self.program, *self._window_flag(data), "learn.crm", f"--css={css}"]
            stdin_path = workdir / f"{css}.in"
            stdin_path.write_bytes(data)
            with stdin_path.open("rb") as stdin:
                process = subprocess.Popen(
                    args,
                    stdin=stdin,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    cwd=workdir,
                    env=self._env(),
                )
            jobs.append((args, process, stdin_path))
        errors = []
        for args, process, stdin_path in jobs:
            try:
                _, stderr = process.communicate(timeout=COMMAND_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                _, stderr = process.communicate()
                errors.append(f"{' '.join(args)} timed out after {COMMAND_TIMEOUT_S}s")
                continue
            finally:
                stdin_path.unlink(missing_ok=True)
            if process.returncode != 0:
                errors.append(f"{' '.join(args)} exited with {process.returncode}: {stderr.decode('utf-8', 'replace')}")
        if errors:
            raise RuntimeError(f"{self.name}: " + "; ".join(errors))
        for css in ("spam.css", "ham.css"):
            if not (workdir / css).exists():
                raise RuntimeError(f"{self.name}: crm114 did not create {css}")
        self._fitted = True

    def score(self, texts: list[str]) -> np.ndarray:
        """pR of spam against ham for every comment, in one crm114 process."""
        self._require_fit()
        if not texts:
            return np.zeros(0, dtype=np.float64)
        data = self._stream(texts)
        args = [self.program, *self._window_flag(data), "classify.crm", "--spam=spam.css", "--ham=ham.css"]
        result = self._run(args, stdin=data)
        lines = result.stdout.decode("utf-8", "replace").splitlines()
        return squash_pr(self._parse_scores(lines, len(texts), self._SCORE))


# --------------------------------------------------------------------------- registry


def all_peers() -> list[Peer]:
    """One of each peer, cheapest first; the caller checks ``missing()`` and calls ``close()``."""
    return [NaiveBayesPeer(), BogofilterPeer(), SpamprobePeer(), Crm114Peer()]
