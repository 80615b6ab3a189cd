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


def file_error(exc: OSError) -> str:
    """One sentence for an error the file system raised, naming the file."""
    what = (exc.strerror or str(exc) or type(exc).__name__).rstrip(".")
    where = exc.filename if exc.filename is not None else None
    if where is None:
        return f"A file could not be read or written: {what.lower()}."
    extra = f" (to {exc.filename2})" if getattr(exc, "filename2", None) else ""
    return f"Could not use {where}{extra}: {what[:1].lower() + what[1:]}."
