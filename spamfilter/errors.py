"""The package's exception hierarchy: catch :class:`SpamfilterError` for all of them."""


class SpamfilterError(Exception):
    """Base class of every error spamfilter raises on purpose."""


class ModelError(SpamfilterError):
    """A model file or its metadata is missing, altered or made for another version."""


class RequestError(SpamfilterError):
    """A request cannot be answered; ``debug_help`` says why (Akismet's debug header)."""

    def __init__(self, body: str, debug_help: str) -> None:
        super().__init__(debug_help)
        self.body = body
        self.debug_help = debug_help
