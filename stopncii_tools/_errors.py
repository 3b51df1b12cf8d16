"""One exception hierarchy. Every message is one plain line a person can act on.

The CLI turns these into exit codes in one place (``cli/_app.py``); core modules only raise.
"""

from __future__ import annotations


class StopNCIIError(Exception):
    """Base of every error this package raises on purpose."""

    def __init__(self, reason: str, item: str | None = None) -> None:
        self.reason = reason
        self.item = item
        super().__init__(f"{item}: {reason}" if item else reason)

    def for_item(self, item: str) -> StopNCIIError:
        """Attach the name of the file, URL or row this error is about (if not already set)."""
        if self.item is None:
            self.item = item
            self.args = (f"{item}: {self.reason}",)
        return self


# -- media -------------------------------------------------------------------------------


class MediaError(StopNCIIError):
    """A file could not be read as an image or video."""


class UnsupportedMedia(MediaError):
    """The bytes are not a picture or video format we can read."""


class CorruptMedia(MediaError):
    """The file claims a known format but is damaged or cut short."""


class MediaTooLarge(MediaError):
    """The picture is too big to decode safely (possible decompression bomb)."""


class VideoSupportMissing(MediaError):
    """Frame-level video hashing needs the optional ``video`` extra."""


class DerivativeSupportMissing(MediaError):
    """Finding crops and derivatives needs the optional ``derivatives`` extra (OpenCV)."""


# -- hashes ------------------------------------------------------------------------------


class InvalidHash(StopNCIIError, ValueError):
    """A hash value is not in the form its signal type expects."""


# -- fetching ----------------------------------------------------------------------------


class FetchError(StopNCIIError):
    """A URL could not be fetched."""


class BlockedAddress(FetchError):
    """The URL points at a private, loopback, link-local or metadata address."""


class ResponseTooLarge(FetchError):
    """The response body is larger than the configured limit."""


class HTTPStatusError(FetchError):
    """The server answered with an error status."""

    def __init__(self, reason: str, item: str | None = None, status: int = 0) -> None:
        super().__init__(reason, item)
        self.status = status


class InvalidURL(FetchError):
    """The text is not an http(s) URL we can fetch."""


# -- cases, notices, sending -------------------------------------------------------------


class StoreError(StopNCIIError):
    """The case database could not do what was asked."""


class NotFound(StoreError):
    """A case, match, notice or item with that id does not exist."""


class CaseChoiceNeeded(StoreError):
    """The command needs ``--case`` because there is not exactly one open case."""


class InputFileError(StopNCIIError):
    """A list, CSV or config file given by the person has a problem."""


class DirectoryError(StopNCIIError):
    """The platform directory file has a bad entry."""


class NoticeError(StopNCIIError):
    """A takedown notice cannot be made as asked."""


class MissingFields(NoticeError):
    """A notice lacks fields its legal framework requires; it is never sent half-made."""

    def __init__(self, framework: str, missing: list[str], item: str | None = None) -> None:
        self.framework = framework
        self.missing = list(missing)
        super().__init__(f"{framework} needs: " + ", ".join(self.missing), item)


class SendError(StopNCIIError):
    """A notice could not be delivered through its channel."""

    retryable = False  # True only on TemporarySendError: the outbox may try again later


class SecretMissing(SendError):
    """A password or token is needed and is not in the environment or keyring."""


class TemporarySendError(SendError):
    """Sending failed for a reason that usually passes (busy server, lost connection).

    ``retry_after`` is how many seconds the receiver asked us to wait, when it said so.
    """

    retryable = True

    def __init__(self, reason: str, item: str | None = None, retry_after: float | None = None) -> None:
        super().__init__(reason, item)
        self.retry_after = retry_after
