"""Every error fastpath raises on purpose. Messages name the problem and what to do about it."""


class FastpathError(Exception):
    """Base class of fastpath's own errors."""


class BuildError(FastpathError, ImportError):
    """The compiled core is missing or stale."""


class ConfigError(FastpathError, ValueError):
    """A configuration value or argument is invalid."""


class CapacityError(FastpathError):
    """A bounded table, queue or buffer is full."""


class UnavailableError(FastpathError, RuntimeError):
    """A feature needs something this system lacks (Linux, root, bcc, a kernel feature).

    ``fix`` says what to do about it.
    """

    def __init__(self, message, fix=None):
        self.fix = fix
        super().__init__(message if fix is None else f"{message} ({fix})")


class PrivilegeError(UnavailableError, PermissionError):
    """The operation needs privileges this process does not have."""


class CaptureError(FastpathError, ValueError):
    """A capture file is malformed or cannot be read.

    ``path``, ``record`` (1-based number of the record at fault, or None) and ``offset`` (byte
    offset in the file, or None) locate the problem; the message names all of them.
    """

    def __init__(self, message, path=None, record=None, offset=None):
        self.path = path
        self.record = record
        self.offset = offset
        where = []
        if path is not None:
            where.append(str(path))
        if record is not None:
            where.append(f"record {record}")
        if offset is not None:
            where.append(f"byte offset {offset}")
        self.reason = message
        super().__init__(f"{': '.join([', '.join(where), message]) if where else message}")


class MalformedPacketError(FastpathError, ValueError):
    """A header could not be parsed (too short, impossible length, bad checksum when checked)."""


class ConnectionRefused(FastpathError, ConnectionRefusedError):
    """The peer answered our SYN with a reset: nothing listens there (RFC 9293 3.10.7.3)."""


class ConnectionReset(FastpathError, ConnectionResetError):
    """The peer reset an open connection (RFC 9293 3.10.7.4, RFC 5961 3)."""


class ConnectionTimedOut(FastpathError, TimeoutError):
    """Retransmissions, SYN retries or keepalive probes went unanswered (RFC 1122 4.2.3.5)."""


class ConnectionAborted(FastpathError, ConnectionAbortedError):
    """The connection was aborted locally."""


class ConnectionClosed(FastpathError, BrokenPipeError):
    """The operation needs an open connection (send after shutdown, or on a closed one)."""


class AllocationFailed(CapacityError, MemoryError):
    """Memory for a connection or its buffers could not be had (or a test forced the failure)."""
