"""User-facing errors: the CLI prints these as one line (a traceback only with --debug)."""


class SamuelError(Exception):
    """An error caused by input, configuration or environment, with a message for the user."""


class AudioError(SamuelError):
    """An audio file that cannot be used (names the file and the problem)."""


class DataError(SamuelError):
    """A dataset root, manifest or cache that cannot be used."""
