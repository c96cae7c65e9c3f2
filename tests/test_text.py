"""Text normalisation: what a reader sees, whatever the markup or obfuscation."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nltk.tokenize import RegexpTokenizer
from nltk.tokenize.casual import reduce_lengthening

from spamfilter.text import (
    _IPV4,
    _LENGTHENING,
    _SPACED_WWW,
    _SPACED_WWW_HINT,
    _SPELLED_DOT,
    _SPELLED_DOT_HINT,
    _URL_HINT,
    EMAIL_RE,
    IPV4_RE,
    MONEY_RE,
    PHONE_MIN_DIGITS,
    PHONE_RE,
    URL_RE,
    _clean_cached,
    _tokenizer,
    clean,
    digit_count,
    url_domain,
    visible_text,
    word_tokens,
)

# Text made mostly of what the patterns look for: links spelled every way, digits, money, contacts.
PIECES = [
    *("www", "w w w", "W\tw w", ".", " . ", " dot ", "(dot)", "[ DOT ]", "{dot}", "com", "COM", "net", "ru"),
    *("x", "http://", "HTTPS://", "ex-ample", " ", "a", "ſ", "K", "1", "٣", "+44 (0)", "-", "@", "$", "€", "usd", "!"),
]
PATTERNISH = (
    st.lists(st.sampled_from(PIECES), max_size=20).map("".join)
    | st.text(alphabet=st.sampled_from("aAbo1 9.,-+()@$€£ \n!?ü٣"), max_size=60)
    | st.text(max_size=60)
)


def test_html_entities_and_tags_become_text() -> None:
    text, links = visible_text('I&#39;m here<br />see <a href="https://shop.example.xyz">cheap bags</a>')
    assert text == "I'm here see cheap bags https://shop.example.xyz"
    assert links == 1


def test_bbcode_links_are_counted() -> None:
    text, links = visible_text("[url=http://a.example.top]nice[/url] and [url]http://b.example.top[/url]")
    assert links == 2 and "http://a.example.top" in text and "http://b.example.top" in text


def test_spelled_out_links_are_rejoined() -> None:
    assert "www.pills.xyz" in clean("visit w w w . pills . xyz today").text
    assert "casino.com" in clean("go to casino dot com").text
    assert clean("go to casino [dot] com").urls == ("casino.com",)


def test_homoglyphs_and_zero_width_characters() -> None:
    # Cyrillic о and а inside a Latin word, a zero-width space inside another.
    assert clean("vi\u0430gr\u0430 ch\u200beap").text == "viagra cheap"
    # Real Russian text is left alone.
    assert clean("Привет, как дела").text == "привет, как дела"


def test_fancy_unicode_letters_fold_to_ascii() -> None:
    assert clean("𝐁𝐢𝐭𝐜𝐨𝐢𝐧 ｆｒｅｅ").text == "bitcoin free"
    # Small capitals, which NFKC leaves alone; IPA letters that only look similar stay.
    assert clean("ɪ ᴍᴀᴅᴇ $5,000 ꜰʀᴏᴍ ʙɪᴛᴄᴏɪɴ").text == "i made $5,000 from bitcoin"
    assert clean("ɐɔə").text == "ɐɔə"


def test_placeholders_for_links_contacts_money_numbers() -> None:
    tokens = word_tokens(
        clean("Call +1 (800) 555-0199 or mail me@x.example.com, only $49.99 at https://a.example.top/x.").text
    )
    assert {"xphonex", "xemailx", "xmoneyx", "xurlx", "xtldtopx"} <= set(tokens)


def test_url_domain() -> None:
    assert url_domain("HTTPS://www.Example.com:8080/path?q") == "example.com"
    assert url_domain("shop.example.org/x") == "shop.example.org"


def test_huge_input_is_truncated_for_features() -> None:
    c = clean("spam " * 300_000)
    assert c.raw_length == 1_500_000 and len(c.text) <= 20_000


@settings(max_examples=300, deadline=None)
@given(PATTERNISH)
def test_lengthening_matches_nltk(text: str) -> None:
    assert _LENGTHENING.sub(r"\1\1\1", text) == reduce_lengthening(text)


@settings(max_examples=300, deadline=None)
@given(PATTERNISH)
def test_tokeniser_matches_nltk(text: str) -> None:
    # Ours only turns off nltk's match timeout and GIL release; the tokens are nltk's.
    assert _tokenizer.tokenize(text) == RegexpTokenizer(_tokenizer._pattern).tokenize(text)


@settings(max_examples=2000, deadline=None)
@given(PATTERNISH)
def test_patterns_skipped_by_their_hint_cannot_match(text: str) -> None:
    # clean() and the placeholders skip each search when its cheap necessary condition fails.
    digits = sum(ch.isdecimal() for ch in text)  # what \d matches in a str pattern
    assert digit_count(text) == digits
    if "@" not in text:
        assert not EMAIL_RE.search(text)
    if not digits:
        assert not MONEY_RE.search(text)
    if digits < PHONE_MIN_DIGITS:
        assert not PHONE_RE.search(text)
    if not _URL_HINT.search(text):
        assert not URL_RE.search(text)
    if not _SPELLED_DOT_HINT.search(text):
        assert not _SPELLED_DOT.search(text)
    if not _SPACED_WWW_HINT.search(text):
        assert not _SPACED_WWW.search(text)


def test_shortcuts_keep_placeholders() -> None:
    assert word_tokens("soooo gooood!!!! mail me at a@b.example") == word_tokens("sooo goood!!! mail me at x@y.example")
    assert "xphonex" in word_tokens("call +1 555 123 4567 now") and "xnumsx" in word_tokens("page 7")


def test_long_comments_are_cleaned_but_not_cached() -> None:
    # The cache keeps its keys alive: megabyte comments must not pile up in it.
    before = _clean_cached.cache_info().currsize
    huge = "buy cheap pills at pills.example.com " * 40_000
    assert clean(huge).urls and clean(huge).raw_length == len(huge)
    assert _clean_cached.cache_info().currsize == before
    clean("a short comment, cached")
    assert _clean_cached.cache_info().currsize == before + 1


# Phone numbers as spam writes them, and the numbers of technical comments that are not
# phones: the phone count is a strong spam signal, so configs and logs must not raise it.
PHONES = ["Call +1 (888) 555-0142 now", "0800 555 0100", "1-800-555-0199", "888.555.0142", "+44 20 7946 0958",
          "whatsapp +2348012345678", "01 23 45 67 89", "+91 98765 43210"]  # fmt: skip
NOT_PHONES = [
    "Address = 192.168.178.201/24",  # an IPv4 address
    "proxy_pass http://127.0.0.1:8096;",  # an address and a port
    "version 10.2.3.4567",
    "  5 Reallocated_Sector_Ct   0x0033   095   095   010    Pre-fail",  # a smartctl table
    "[ 8123.441920] usb 2-1: USB disconnect",  # a kernel log timestamp
    "page 1234 of 5678",
    "1000000000 views",  # mostly one digit: a count, not a number to call
    "call 1-000-000-0000",
]


@pytest.mark.parametrize("text", PHONES)
def test_phone_numbers_are_counted(text: str) -> None:
    assert clean(text).phones == 1 and "xphonex" in word_tokens(clean(text).text)


@pytest.mark.parametrize("text", NOT_PHONES)
def test_addresses_tables_and_timestamps_are_not_phone_numbers(text: str) -> None:
    assert clean(text).phones == 0 and "xphonex" not in word_tokens(clean(text).text)


def test_ipv4_addresses_become_their_own_token() -> None:
    assert word_tokens("ping 10.0.0.1 and 192.168.1.20").count("xipx") == 2


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="0123456789.a :-", max_size=40))
def test_ipv4_pattern_is_the_plain_lookbehind_form(text: str) -> None:
    plain = re.compile(r"(?<![\w.])" + _IPV4)  # look behind, then the address
    assert IPV4_RE.findall(text) == plain.findall(text)
