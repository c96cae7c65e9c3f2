"""Comment text normalisation shared by training and serving.

Spam hides behind markup, look-alike letters and spelled-out links, and the public
corpora carry markup artefacts (HTML entities only in one class, ``<br />`` in
another). Everything here maps a raw comment to what a reader would see, so the
model learns spam and not the encoding of a particular data set.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from nltk.stem.snowball import SnowballStemmer
from nltk.tokenize import RegexpTokenizer

# Longest text the features look at: a 1 MB comment must not cost 1 MB of n-grams.
MAX_TEXT_CHARS = 20_000

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\ufeff\u00ad\u034f"))
# Small capitals ("ꜰʀᴇᴇ ʙɪᴛᴄᴏɪɴ"): "fancy text" generators use them to slip past word filters,
# and NFKC leaves them alone. No language writes with them, so they are always folded.
_SMALL_CAPS = {
    cp: unicodedata.name(chr(cp)).removeprefix("LATIN LETTER SMALL CAPITAL ").lower()
    for cp in [*range(0x0250, 0x02B0), *range(0x1D00, 0x1D2C), *range(0xA730, 0xA800)]
    if re.fullmatch(r"LATIN LETTER SMALL CAPITAL [A-Z]", unicodedata.name(chr(cp), ""))
}
_INVISIBLE_AND_SMALL_CAPS = {**_ZERO_WIDTH, **_SMALL_CAPS}  # one pass over the text for both

# Cyrillic and Greek letters that look like Latin ones; applied only inside words that
# mix scripts, so real Russian or Greek text is left alone.
_HOMOGLYPHS = str.maketrans(
    "аеорсухіјѕԁһӏкмтвнАЕОРСХУІЈЅКМТВНαοντρκιΑΒΕΗΙΚΜΝΟΡΤΧΥΖ",
    "aeopcyxijsdhlkmtbhAEOPCXYIJSKMTBHaovtpkiABEHIKMNOPTXYZ",
)
_LATIN = re.compile(r"[a-zA-Z]")
_NON_LATIN_LOOKALIKE = re.compile(r"[\u0370-\u03ff\u0400-\u04ff]")
_WORD = re.compile(r"\w+")
_DIGITS = re.compile(r"\d+")  # PHONE_RE, MONEY_RE and the number placeholders all need some
PHONE_MIN_DIGITS = 10
PHONE_SINGLE_DIGIT_SHARE = 0.7

_ANCHOR = re.compile(r"<a\b[^>]*?href\s*=\s*[\"']?([^\"'\s>]+)[^>]*>(.*?)</a\s*>", re.I | re.S)
_BBCODE_URL = re.compile(r"\[url=([^\]]+)\](.*?)\[/url\]", re.I | re.S)
_BBCODE_BARE = re.compile(r"\[url\](.*?)\[/url\]", re.I | re.S)
_TAG = re.compile(r"</?[a-zA-Z][^>]{0,500}>")
_SPACED_WWW = re.compile(r"\bw\s+w\s+w\s*\.\s*", re.I)
_TLDS = (
    "com|net|org|info|biz|xyz|top|shop|site|online|store|club|live|io|co|me|ru|cn|de|uk|"
    "in|us|pw|tk|ml|ga|cf|gq|vip|win|bid|loan|click|link|fun|app|dev|ly|to|cc|tv|ws|pro"
)
_SPELLED_DOT = re.compile(
    r"(\w)\s*(?:\.|\(\s*dot\s*\)|\[\s*dot\s*\]|\{\s*dot\s*\}|\s+dot\s+)\s*(" + _TLDS + r")\b", re.I
)

_URL_TAIL = r"(?:[^\s<>\"'\])]*[^\s<>\"'\]).,;:!?])?"  # a sentence's full stop is not part of the link
URL_RE = re.compile(
    r"(?:\bhttps?://|\bwww\.)" + _URL_TAIL + r"|\b(?:[a-z0-9-]+\.)+(?:" + _TLDS + r")\b(?:/" + _URL_TAIL + ")?",
    re.I,
)
EMAIL_RE = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
# An IPv4 address: in technical comments (configs, logs), never a phone number.
_IPV4_TAIL = r"(?:\.\d{1,3}){3}(?![\w]|\.\d)"
_IPV4 = r"\d{1,3}" + _IPV4_TAIL
# Not preceded by a word character or a dot. Written as "a digit, then look behind it" rather
# than "look behind, then a digit": a pattern that starts with a digit lets the regex engine
# skip to the digits, twice as fast (tests/test_text.py checks the two forms agree).
IPV4_RE = re.compile(r"\d(?<![\w.]\d)\d{0,2}" + _IPV4_TAIL)
# At least ten digits with separators between them; not an IPv4 address, nor the tail of
# one (or of a version or a port), nor a decimal number (log timestamps such as 8123.441920).
# Runs of numbers in tables and logs ("095 095 010") have fewer digits per run.
PHONE_RE = re.compile(
    r"(?<![\w.:])(?!" + _IPV4 + r")(?!\d+\.\d+(?!\d|[\s().-]\d))"
    rf"(?=(?:[\s().+-]*\d){{{PHONE_MIN_DIGITS}}})\+?\d[\d\s().-]{{7,}}\d(?![\w])"
)


def is_phone(number: str) -> bool:
    """Whether a PHONE_RE match reads as a number to call: one that is mostly a single digit
    ("1000000000 views", "x3333333333") is a count or a key held down, not a phone."""
    digits = [ch for ch in number if ch.isdigit()]
    return max(map(digits.count, set(digits))) < PHONE_SINGLE_DIGIT_SHARE * len(digits)


MONEY_RE = re.compile(
    r"[$£€₹¥]\s?\d[\d,.]*\s?[km]?\b|\b\d[\d,.]*\s?(?:usd|dollars?|eur|euros?|pounds?|gbp|btc|bitcoin)\b", re.I
)

# Cheap necessary conditions for the patterns above, tested first. Most comments hold no
# link, and these start only at a "." (or "dot", "w", "http"), where URL_RE and _SPELLED_DOT
# try at every word character: half the cost of cleaning. tests/test_text.py checks that
# a text the hint rejects never matches the pattern.
_URL_HINT = re.compile(r"\.(?:" + _TLDS + r")\b|https?://|www\.", re.I)
_SPELLED_DOT_HINT = re.compile(r"(?:\.|dot\s*[)\]}]?)\s*(?:" + _TLDS + r")\b", re.I)
_SPACED_WWW_HINT = re.compile(r"w\s+w\s+w", re.I)


class _Tokenizer(RegexpTokenizer):
    """nltk's RegexpTokenizer, matching without a timeout and without releasing the GIL.

    nltk runs every pattern under a ReDoS timeout in the ``regex`` engine, which also lets
    other threads run during each match; a serving thread then waits for the check log's
    writer to hand the GIL back. This pattern is fixed and linear.
    """

    def tokenize(self, text: str) -> list[str]:
        self._check_regexp()
        return self._regexp.findall(text, timeout=None, concurrent=False)


# Words and the punctuation spam leans on. A plain pattern, not TweetTokenizer: it was
# half of the time to score a comment, and cleaning has already handled links and emoji.
_tokenizer = _Tokenizer(r"\w+|[!?$€£]")
# Stemming the same words over and over is most of the rest; comments share a vocabulary.
_stem = lru_cache(maxsize=200_000)(SnowballStemmer("english").stem)
# nltk's reduce_lengthening ("soooo" -> "sooo") compiles this pattern on every call and runs
# it under a ReDoS timeout, five times the cost of the match itself; the pattern is fixed
# and linear, so it is compiled once here (tests/test_text.py checks the two agree).
_LENGTHENING = re.compile(r"(.)\1{2,}")


@dataclass(frozen=True, slots=True)
class CleanText:
    """A comment's text as a reader sees it, plus what was found in it."""

    text: str  # visible text, lower-cased, links kept in place
    urls: tuple[str, ...]
    emails: int
    phones: int
    money: int
    html_links: int  # <a href> and [url] links in the raw text
    raw_length: int
    upper_ratio: float


def _unlink(match: re.Match[str]) -> str:
    return f" {match.group(2)} {match.group(1)} "


def _fix_homoglyphs(text: str) -> str:
    if not _NON_LATIN_LOOKALIKE.search(text):
        return text

    def fix(word: re.Match[str]) -> str:
        w = word.group(0)
        if _LATIN.search(w) and _NON_LATIN_LOOKALIKE.search(w):
            return w.translate(_HOMOGLYPHS)
        return w

    return _WORD.sub(fix, text)


def visible_text(raw: str) -> tuple[str, int]:
    """Return (text a reader sees, number of markup links) for a raw comment."""
    text = raw[:MAX_TEXT_CHARS]
    text = html.unescape(html.unescape(text))  # some sources escape twice (&amp;#39;)
    html_links = len(_ANCHOR.findall(text)) + len(_BBCODE_URL.findall(text)) + len(_BBCODE_BARE.findall(text))
    text = _ANCHOR.sub(_unlink, text)
    text = _BBCODE_URL.sub(_unlink, text)
    text = _BBCODE_BARE.sub(r" \1 ", text)
    text = _TAG.sub(" ", text)
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE_AND_SMALL_CAPS)
    text = _fix_homoglyphs(text)
    if _SPACED_WWW_HINT.search(text):
        text = _SPACED_WWW.sub("www.", text)
    if _SPELLED_DOT_HINT.search(text):
        text = _SPELLED_DOT.sub(r"\1.\2", text)
    return " ".join(text.split()), html_links


# Comments up to this long are cached: the cache keeps each key alive, and 4,096 comments
# of the 4 MB a request may carry would pin gigabytes in every worker.
CACHED_CHARS = 5_000


def clean(raw: str) -> CleanText:
    """Normalise one comment; cached because training, evaluation and reasons see it again."""
    raw = raw or ""
    return _clean_cached(raw) if len(raw) <= CACHED_CHARS else _clean(raw)


def forget_cached() -> None:
    """Empty the cleaning cache (a benchmark that times first sightings)."""
    _clean_cached.cache_clear()


def digit_count(text: str) -> int:
    """How many digits ``text`` holds. Most texts have too few for a phone number, and the
    phone pattern costs three times as much as this count."""
    return sum(map(len, _DIGITS.findall(text)))


def _clean(raw: str) -> CleanText:
    text, html_links = visible_text(raw)
    letters = [*filter(str.isalpha, text)]  # C predicates: a Python loop per character costs several times more
    upper = sum(map(str.isupper, letters)) / len(letters) if letters else 0.0
    digits = digit_count(text)
    return CleanText(
        text=text.lower(),
        urls=tuple(URL_RE.findall(text)) if _URL_HINT.search(text) else (),
        # Each search costs about as much as the rest of cleaning; most comments need none.
        emails=len(EMAIL_RE.findall(text)) if "@" in text else 0,
        phones=sum(map(is_phone, PHONE_RE.findall(text))) if digits >= PHONE_MIN_DIGITS else 0,
        money=len(MONEY_RE.findall(text)) if digits else 0,
        html_links=html_links,
        raw_length=len(raw),
        upper_ratio=upper,
    )


_clean_cached = lru_cache(maxsize=4096)(_clean)


def url_domain(url: str) -> str:
    """Host part of a URL or bare domain, without ``www.`` (``''`` when there is none)."""
    u = re.sub(r"^[a-z][a-z0-9+.-]*://", "", url.strip().lower())
    host = re.split(r"[/?#:]", u, maxsplit=1)[0]
    return host.removeprefix("www.")


def _phone_token(match: re.Match[str]) -> str:
    return " xphonex " if is_phone(match.group(0)) else match.group(0)


def _placeholder_text(text: str) -> str:
    """Replace links, addresses, numbers and amounts by class tokens so words generalise."""
    if "@" in text:
        text = EMAIL_RE.sub(" xemailx ", text)

    def link(m: re.Match[str]) -> str:
        host = url_domain(m.group(0))
        tld = re.sub(r"[^a-z]", "", host.rsplit(".", 1)[-1]) if "." in host else ""
        return f" xurlx xtld{tld}x "

    if _URL_HINT.search(text):
        text = URL_RE.sub(link, text)
    digits = digit_count(text)
    if not digits:  # nothing below can match
        return text
    text = IPV4_RE.sub(" xipx ", text)
    text = MONEY_RE.sub(" xmoneyx ", text)
    if digits >= PHONE_MIN_DIGITS:  # counted before the substitutions above, which only remove digits
        text = PHONE_RE.sub(_phone_token, text)
    # Letters only: the tokenizer splits tokens that mix letters and digits.
    return re.sub(r"\d+", lambda m: " xnum" + "sml"[min(len(m.group(0)), 5) // 2] + "x ", text)


def word_tokens(text: str) -> list[str]:
    """Stemmed word tokens of cleaned text (links, e-mails, numbers as class tokens)."""
    tokens = _tokenizer.tokenize(_LENGTHENING.sub(r"\1\1\1", _placeholder_text(text)))
    return [_stem(tok) if tok.isalpha() else tok for tok in tokens]
