"""Errors a user can cause and fix. The CLI prints them as one line, without a traceback."""


class ReportgenError(Exception):
    """A problem with the user's input or environment; the message says what to do."""

    exit_code = 1


class ConfigError(ReportgenError):
    """An unknown key, a wrong type or an impossible value in the config."""

    exit_code = 2


class DataError(ReportgenError):
    """The dataset cannot be found, downloaded or read."""


class BundleError(ReportgenError):
    """A results bundle is missing, incomplete or inconsistent."""


class WeightsError(ReportgenError):
    """A weights file is not a plain state dict, or does not fit the configured architecture."""

    exit_code = 2
