"""Turning an Akismet-style request into validated comment fields.

Clients differ (see ../shared/AKISMET_API.md, section 5): the body is form data
whatever the Content-Type says, bytes may be in the blog's charset instead of
UTF-8, empty values mean "absent", ``comment_context`` comes as a PHP array, and
the API key may be a parameter or the first label of the Host header.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl

from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData

from .errors import RequestError
from .features import Record

TRUE_VALUES = {"1", "true", "yes", "on"}

# Request parameter -> record field used by the model.
RECORD_PARAMS = {
    "comment_content": "content",
    "comment_author": "author",
    "comment_author_email": "email",
    "comment_author_url": "url",
    "user_agent": "user_agent",
    "referrer": "referrer",
    "user_ip": "user_ip",
    "comment_type": "comment_type",
    "permalink": "permalink",
    "blog": "blog",
}


def _decode(raw: bytes, charset: str | None) -> str:
    """UTF-8, else the blog's charset, else Windows-1252 (what old PHP blogs send), else Latin-1."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if charset:
        try:
            return raw.decode(codecs.lookup(charset).name)
        # LookupError also covers bytes-to-bytes codecs (base64, zlib); "undefined" raises UnicodeError.
        except (LookupError, UnicodeError, ValueError):
            pass
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:
        return raw.decode("latin-1")  # maps every byte


def clean_value(value: str) -> str:
    """Drop what no store can keep: NUL (PostgreSQL text refuses it) and lone surrogates (not UTF-8)."""
    value = value.replace("\x00", "")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", errors="replace").decode("utf-8")
    return value


def clean_fields(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Fields with clean names and values; empty values dropped (Net::Akismet sends every unset field)."""
    fields: dict[str, str] = {}
    for key, value in pairs:
        value = clean_value(value)
        if value.strip():
            fields[clean_value(key)] = value
    return fields


def _query_pairs(data: bytes) -> list[tuple[bytes, bytes]]:
    # latin-1 maps bytes 1:1, so percent-decoding keeps the raw bytes for _decode.
    text = data.decode("latin-1")
    return [
        (k.encode("latin-1"), v.encode("latin-1"))
        for k, v in parse_qsl(text, keep_blank_values=True, encoding="latin-1")
    ]


def _multipart_pairs(body: bytes, boundary: bytes) -> list[tuple[bytes, bytes]]:
    """Raw (name, value) bytes of the form fields of a multipart body; files are ignored.

    Werkzeug's form parser decodes values as UTF-8 and replaces what is not, before
    ``blog_charset`` can be honoured; its sans-io decoder gives the bytes.
    """
    decoder = MultipartDecoder(boundary)
    decoder.receive_data(body)
    decoder.receive_data(None)
    pairs: list[tuple[bytes, bytes]] = []
    name: bytes | None = None
    chunks: list[bytes] = []
    try:
        while not isinstance(event := decoder.next_event(), NeedData | Epilogue):
            if isinstance(event, Field):
                name, chunks = event.name.encode("latin-1", "replace"), []
            elif isinstance(event, File):
                name = None
            elif isinstance(event, Data) and name is not None:
                chunks.append(event.data)
                if not event.more_data:
                    pairs.append((name, b"".join(chunks)))
    except ValueError:  # a malformed body: the fields read so far, as Werkzeug would give none
        pass
    return pairs


def parse_form(body: bytes, query: bytes = b"", boundary: bytes | None = None) -> dict[str, str]:
    """Form fields from the query string and the body (body wins); empty values dropped.

    The body is url-encoded, or multipart when ``boundary`` is given. Values are
    decoded one by one: UTF-8, else the request's ``blog_charset``.
    """
    pairs = _query_pairs(query)
    pairs += _multipart_pairs(body, boundary) if boundary else _query_pairs(body)
    charset = next((v.decode("latin-1") for k, v in pairs if k == b"blog_charset" and v), None)
    return clean_fields((_decode(k, charset), _decode(v, charset)) for k, v in pairs)


def is_true(value: str | None) -> bool:
    return (value or "").strip().lower() in TRUE_VALUES


def comment_context(fields: Mapping[str, str]) -> list[str]:
    """``comment_context`` as a list, from ``comment_context[N]`` or a plain value."""
    items = sorted(
        ((k, v) for k, v in fields.items() if k.startswith("comment_context[")),
        key=lambda kv: (len(kv[0]), kv[0]),
    )
    values = [v for _, v in items]
    if "comment_context" in fields:
        values.insert(0, fields["comment_context"])
    return values


def request_key(fields: Mapping[str, str], host: str, service_hosts: Iterable[str], prefer_key: bool) -> str | None:
    """The API key: ``key``/``api_key`` (order per method), else ``KEY.<service host>``."""
    order = ("key", "api_key") if prefer_key else ("api_key", "key")
    for name in order:
        if fields.get(name, "").strip():
            return fields[name].strip()
    hostname = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    hostname = hostname.strip().lower().rstrip(".")
    for service in service_hosts:
        suffix = "." + service.strip().lower()
        if hostname.endswith(suffix):
            label = hostname[: -len(suffix)]
            if label and "." not in label:
                return label
    return None


@dataclass(frozen=True, slots=True)
class Comment:
    """One comment as sent to comment-check or submit-*, validated."""

    fields: Mapping[str, str]
    context: tuple[str, ...]

    @classmethod
    def from_fields(cls, fields: Mapping[str, str]) -> Comment:
        for name in ("blog", "user_ip"):
            if not fields.get(name, "").strip():
                raise RequestError(f"Missing required field: {name}.", f'Empty "{name}" value')
        return cls(fields=dict(fields), context=tuple(comment_context(fields)))

    def get(self, name: str) -> str:
        return self.fields.get(name, "")

    @property
    def blog(self) -> str:
        return self.get("blog").strip()

    @property
    def is_test(self) -> bool:
        return is_true(self.get("is_test"))

    @property
    def honeypot_filled(self) -> bool:
        name = self.get("honeypot_field_name").strip()
        return bool(name) and bool(self.get(name).strip())

    def record(self) -> Record:
        """The model's input for this comment."""
        return {field: self.get(param) for param, field in RECORD_PARAMS.items()}
