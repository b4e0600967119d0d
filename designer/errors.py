"""User-facing errors: one line that names the input and what to do about it."""


class DesignerError(Exception):
    """An error caused by the user's input (file, config, option).

    The CLI prints ``str(error)`` on one line and exits with code 2, without a traceback.
    """


class DataError(DesignerError):
    """A data file or one of its rows cannot be used."""


class ConfigError(DesignerError):
    """A pipeline file or a ``--set`` override is invalid."""
