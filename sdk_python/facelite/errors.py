"""Error types shared by every facelite command.

`UserError` and its subclasses are problems the user can fix (a bad path, a bad
manifest, a tampered bundle): CLIs print their message without a traceback and exit 2.
Anything else is a bug or an environment failure and exits 1.
"""


class FaceliteError(Exception):
    """Base class of every error facelite raises on purpose."""


class UserError(FaceliteError):
    """Something the user gave us is wrong; the message says what, where and what to do."""


class BundleError(UserError):
    """A bundle is missing, malformed, of an unknown schema or fails its checksums."""


class ImageError(UserError):
    """An image cannot be read: missing, not an image, truncated, or too large."""


class DataError(UserError):
    """A dataset folder is missing, empty or holds unreadable files."""


class HistoryError(UserError):
    """A skin history file or its input is unusable: not a facelite history, written by a newer
    facelite, an invalid report or export document, an unreliable capture, an unknown user."""
