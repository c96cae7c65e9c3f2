"""spamfilter.params: form parsing, charsets, comment_context, and where the API key comes from."""

from __future__ import annotations

import pytest

from spamfilter.errors import RequestError
from spamfilter.params import Comment, comment_context, is_true, parse_form, request_key

SERVICE_HOSTS = ["rest.akismet.com", "localhost"]
KEY = "abcd1234wxyz"


# --- parse_form ---------------------------------------------------------------------------------


def test_parse_form_utf8_percent_encoded_and_raw() -> None:
    assert parse_form(b"comment_content=caf%C3%A9+au+lait") == {"comment_content": "café au lait"}
    assert parse_form("comment_content=café".encode()) == {"comment_content": "café"}
    assert parse_form(b"comment_author=%E2%9C%93+done") == {"comment_author": "✓ done"}


def test_parse_form_latin1_with_blog_charset() -> None:
    percent = parse_form(b"blog_charset=ISO-8859-1&comment_content=caf%E9")
    assert percent["comment_content"] == "café"
    raw = parse_form(b"comment_content=na\xefve+caf\xe9&blog_charset=iso-8859-1")
    assert raw["comment_content"] == "naïve café"  # blog_charset applies wherever it comes in the body
    assert parse_form(b"comment_content=caf%E9", b"blog_charset=ISO-8859-1")["comment_content"] == "café"


def test_parse_form_prefers_utf8_per_value_even_with_another_blog_charset() -> None:
    fields = parse_form(b"blog_charset=ISO-8859-1&a=caf%C3%A9&b=caf%E9")
    assert fields["a"] == "café"  # valid UTF-8 is read as UTF-8
    assert fields["b"] == "café"  # the rest in the blog's charset


def test_parse_form_unknown_blog_charset_does_not_fail() -> None:
    fields = parse_form(b"blog_charset=no-such-charset&comment_content=caf%E9&blog=x")
    assert fields["blog"] == "x"
    assert fields["comment_content"].startswith("caf")


def test_parse_form_latin1_without_charset_keeps_the_text() -> None:
    assert parse_form(b"comment_content=caf%E9")["comment_content"] == "café"
    assert parse_form(b"comment_content=caf\xe9")["comment_content"] == "café"


def test_parse_form_merges_query_and_body_body_wins() -> None:
    fields = parse_form(b"blog=https%3A%2F%2Fbody.example&user_ip=192.0.2.1", b"api_key=k1&blog=https://query.example")
    assert fields == {"api_key": "k1", "blog": "https://body.example", "user_ip": "192.0.2.1"}


def test_parse_form_drops_empty_and_blank_values() -> None:
    fields = parse_form(b"comment_author_url=&comment_author=&referrer=+&user_agent=%20%09&blog=b&flag")
    assert fields == {"blog": "b"}


def test_parse_form_details() -> None:
    fields = parse_form(b"comment_content=one+two%2Bthree&a%5Bb%5D=c&x=1&x=2&nul=a%00b")
    assert fields["comment_content"] == "one two+three"
    assert fields["a[b]"] == "c"
    assert fields["x"] == "2"  # the last of repeated fields
    assert fields["nul"] == "ab"  # NUL removed (PostgreSQL text cannot hold it)
    assert parse_form(b"") == {}


def test_is_true() -> None:
    for value in ("1", "true", "True", "TRUE", " true "):
        assert is_true(value), value
    for value in ("0", "false", "", None, "2"):
        assert not is_true(value), value


# --- comment_context ------------------------------------------------------------------------------


def test_comment_context_php_array_in_index_order() -> None:
    fields = {f"comment_context[{i}]": f"tag{i}" for i in (10, 2, 0, 1, 11)}
    assert comment_context(fields) == ["tag0", "tag1", "tag2", "tag10", "tag11"]


def test_comment_context_plain_and_absent() -> None:
    assert comment_context({"comment_context": "cooking"}) == ["cooking"]
    assert comment_context({"blog": "x"}) == []
    both = {"comment_context[1]": "b", "comment_context": "plain", "comment_context[0]": "a"}
    assert comment_context(both) == ["plain", "a", "b"]


# --- request_key ----------------------------------------------------------------------------------


def test_request_key_parameter_precedence() -> None:
    both = {"key": "candidate", "api_key": "stored"}
    assert request_key(both, "rest.akismet.com", SERVICE_HOSTS, prefer_key=True) == "candidate"  # verify-key
    assert request_key(both, "rest.akismet.com", SERVICE_HOSTS, prefer_key=False) == "stored"  # others
    assert request_key({"api_key": "only"}, "rest.akismet.com", SERVICE_HOSTS, prefer_key=True) == "only"
    assert request_key({"key": "only"}, "rest.akismet.com", SERVICE_HOSTS, prefer_key=False) == "only"
    assert request_key({"key": "  padded  "}, "x", SERVICE_HOSTS, prefer_key=True) == "padded"


def test_request_key_parameter_beats_host() -> None:
    host = f"{KEY}.rest.akismet.com"
    assert request_key({"api_key": "param"}, host, SERVICE_HOSTS, prefer_key=False) == "param"
    assert request_key({"api_key": "  "}, host, SERVICE_HOSTS, prefer_key=False) == KEY  # blank = absent


@pytest.mark.parametrize(
    "host",
    [
        f"{KEY}.rest.akismet.com",
        f"{KEY}.rest.akismet.com:443",
        f"{KEY}.localhost:8000",
        f"{KEY}.localhost",
        f"{KEY.upper()}.REST.Akismet.COM",
        f"{KEY}.rest.akismet.com.",
        f"{KEY}.rest.akismet.com.:80",
    ],
)
def test_request_key_from_host(host: str) -> None:
    assert request_key({}, host, SERVICE_HOSTS, prefer_key=False) == KEY
    assert request_key({}, host, SERVICE_HOSTS, prefer_key=True) == KEY


@pytest.mark.parametrize(
    "host",
    [
        "rest.akismet.com",
        "rest.akismet.com:443",
        "localhost:8000",
        "localhost",
        f"a.{KEY}.rest.akismet.com",  # a label containing dots is not a key
        f"{KEY}.evil.example",
        f"{KEY}rest.akismet.com",
        ".rest.akismet.com",
        "127.0.0.1:8000",
        "192.0.2.10",
        "[::1]:8000",
        "[2001:db8::1]",
        "",
    ],
)
def test_request_key_no_key_in_host(host: str) -> None:
    assert request_key({}, host, SERVICE_HOSTS, prefer_key=False) is None


def test_request_key_service_hosts_are_compared_case_insensitively() -> None:
    assert request_key({}, f"{KEY}.spam.example:8080", [" Spam.Example "], prefer_key=False) == KEY
    assert request_key({}, f"{KEY}.spam.example", [], prefer_key=False) is None


# --- Comment --------------------------------------------------------------------------------------


def test_comment_requires_blog_then_user_ip() -> None:
    with pytest.raises(RequestError) as err:
        Comment.from_fields({"user_ip": "192.0.2.1"})
    assert (err.value.body, err.value.debug_help) == ("Missing required field: blog.", 'Empty "blog" value')
    with pytest.raises(RequestError) as err:
        Comment.from_fields({"blog": "https://blog.example", "user_ip": " "})
    assert (err.value.body, err.value.debug_help) == ("Missing required field: user_ip.", 'Empty "user_ip" value')
    with pytest.raises(RequestError) as err:
        Comment.from_fields({})
    assert err.value.body == "Missing required field: blog."


def test_comment_fields() -> None:
    comment = Comment.from_fields(
        {
            "blog": " https://blog.example ",
            "user_ip": "192.0.2.1",
            "is_test": "true",
            "honeypot_field_name": "hp",
            "hp": "x",
            "comment_context[1]": "b",
            "comment_context[0]": "a",
            "comment_content": "Hello",
        }
    )
    assert comment.blog == "https://blog.example"
    assert comment.is_test
    assert comment.honeypot_filled
    assert comment.context == ("a", "b")
    record = comment.record()
    assert record["content"] == "Hello"
    assert record["user_ip"] == "192.0.2.1"
    assert record["author"] == ""
    plain = Comment.from_fields({"blog": "b", "user_ip": "i", "honeypot_field_name": "hp"})
    assert not plain.is_test
    assert not plain.honeypot_filled
