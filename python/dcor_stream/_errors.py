"""The exceptions of dcor_stream: the binary's exit status and message."""


class Error(Exception):
    """Base of the errors the dcor-stream binary reports; str() is its message."""

    exit_status = None


class DataError(Error, ValueError):
    """The data or a runtime condition (exit status 1): a NaN, a row count
    mismatch, an unreadable file, an interrupted run. The message names the
    file, column and row, as the command line does."""

    exit_status = 1


class UsageError(Error, ValueError, TypeError):
    """An invalid option or combination of options (exit status 2), or an
    unknown keyword argument (a TypeError too, as Python's own)."""

    exit_status = 2


class InternalError(Error, RuntimeError):
    """A bug in dcor-stream (exit status 3, or output that is not what the
    binary promises): please report it with its message."""

    exit_status = 3


class DcorStreamWarning(UserWarning):
    """A notice of the binary that changes what the result means (a
    statistic left out, rows dropped, a minibatch order warning)."""
