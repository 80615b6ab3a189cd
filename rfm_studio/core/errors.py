"""User-facing errors: each carries one clear sentence for the CLI or a dialog."""


class RFMError(Exception):
    """Base class of errors caused by the user's input (file, option, model)."""


class AudioReadError(RFMError):
    """The audio file cannot be read or holds no usable audio."""


class ModelLoadError(RFMError):
    """A model bundle is missing, corrupted or does not match its config."""


class OptionError(RFMError):
    """An option value is out of range or malformed."""


class Cancelled(RFMError):
    """A long job was cancelled by its cancel token."""
