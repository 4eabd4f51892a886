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
