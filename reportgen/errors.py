"""Errors a user can cause and fix. The CLI prints them as one line, without a traceback (`one_line`)."""

# Escapes of the characters a line break or a terminal would act on, shown as Python writes them.
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def one_line(text: str) -> str:
    """`text` as one line of plain text whatever a stranger put in it (a folder name, a class name): line breaks
    and other control characters, bidirectional overrides and other invisible characters shown as escapes
    (``\\n``, ``\\u202e``), and a folder name's bytes that are not UTF-8 as ``\\xff``; the rest kept as it is."""
    return "".join(ch if ch.isprintable() or ch == " " else _escaped(ch) for ch in text)


def _escaped(ch: str) -> str:
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # os.fsdecode's stand-in for a byte that is not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    return _ESCAPES.get(ch) or (f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")


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
