"""User-facing errors: the CLI prints these as one line (a traceback only with --debug)."""


class SamuelError(Exception):
    """An error caused by input, configuration or environment, with a message for the user."""


class AudioError(SamuelError):
    """An audio file that cannot be used (names the file and the problem)."""


class AudioLimitError(AudioError):
    """A file whose header breaks a decode limit; ``kind`` is rate | channels | duration |
    samples."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


class DataError(SamuelError):
    """A dataset root, manifest or cache that cannot be used."""


class OutputError(SamuelError, OSError):
    """An output file or folder that cannot be written (names it and the OS error); still an
    OSError for callers that catch those."""


class NonFiniteError(SamuelError):
    """Training produced a NaN/inf loss or gradient (names the step)."""
