"""The study's error types: each names the problem in words a researcher can act on."""


class SeqRecError(Exception):
    """Base class: the CLI prints these as one line instead of a traceback."""


class ConfigError(SeqRecError, ValueError):
    """An unknown key, a value of the wrong type, or a value out of range."""


class DataError(SeqRecError, ValueError):
    """An unknown dataset, a malformed data file, or a checksum mismatch."""


class TrainingError(SeqRecError, FloatingPointError):
    """Training diverged (a non-finite loss)."""
