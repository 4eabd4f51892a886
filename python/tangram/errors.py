"""Errors raised by Tangram: every failed C++ call surfaces as a TangramError."""


class TangramError(RuntimeError):
    """A failed Tangram call.

    Attributes:
        code: the absl::Status code name, e.g. "DEADLINE_EXCEEDED", "UNAVAILABLE",
            "INVALID_ARGUMENT", "ABORTED", "FAILED_PRECONDITION".
        message: the status message.
    """

    def __init__(self, code, message):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class ArgumentError(TangramError, ValueError):
    """A public argument out of range (code INVALID_ARGUMENT): also a ValueError, as Python's own
    functions raise for a bad value."""

    def __init__(self, message):
        super().__init__("INVALID_ARGUMENT", message)


class ArgumentTypeError(TangramError, TypeError):
    """A public argument of the wrong type (code INVALID_ARGUMENT): also a TypeError."""

    def __init__(self, message):
        super().__init__("INVALID_ARGUMENT", message)
