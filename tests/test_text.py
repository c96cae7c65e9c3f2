"""Text normalisation: what a reader sees, whatever the markup or obfuscation."""

from __future__ import annotations

from spamfilter.text import clean, url_domain, visible_text, word_tokens


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
