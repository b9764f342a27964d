"""TF's exception classes (``tf.errors``): ``OpError`` and its subclasses, one per status code."""

import threading

OK = 0
CANCELLED = 1
UNKNOWN = 2
INVALID_ARGUMENT = 3
DEADLINE_EXCEEDED = 4
NOT_FOUND = 5
ALREADY_EXISTS = 6
PERMISSION_DENIED = 7
RESOURCE_EXHAUSTED = 8
FAILED_PRECONDITION = 9
ABORTED = 10
OUT_OF_RANGE = 11
UNIMPLEMENTED = 12
INTERNAL = 13
UNAVAILABLE = 14
DATA_LOSS = 15
UNAUTHENTICATED = 16


class NeedsStaticValue(TypeError):
    """A lowering needs a value known when the step is traced (a size, a shape, a capacity) but
    got a traced one. The compiler then specializes the step on the fed values it comes from,
    where there are such (``compiler/executable.py``)."""


class NeedsRunChecks(TypeError):
    """A lowering needs checks made while the step runs (the capacity of a loop that is
    differentiated) but the step is traced to donate its state. The compiler then compiles it
    without donating, so that a failed check can rerun it (``compiler/executable.py``)."""


class OpError(Exception):
    """An error raised while running a graph: carries the failing op (if any) and a code."""

    def __init__(self, node_def, op, message, error_code=UNKNOWN, *args):
        super().__init__(message)
        self._node_def = node_def
        self._op = op
        self._message = message
        self._error_code = error_code

    @property
    def message(self):
        return self._message

    @property
    def op(self):
        return self._op

    @property
    def node_def(self):
        return self._node_def

    @property
    def error_code(self):
        return self._error_code

    def __str__(self):
        return self._message

    def __reduce__(self):
        return type(self), (self._node_def, self._op, self._message)


def _subclass(name, code):
    def __init__(self, node_def=None, op=None, message="", *args):
        OpError.__init__(self, node_def, op, message, code)

    return type(name, (OpError,), {"__init__": __init__, "__doc__": f"TF's ``{name}``."})


CancelledError = _subclass("CancelledError", CANCELLED)
UnknownError = _subclass("UnknownError", UNKNOWN)
InvalidArgumentError = _subclass("InvalidArgumentError", INVALID_ARGUMENT)
DeadlineExceededError = _subclass("DeadlineExceededError", DEADLINE_EXCEEDED)
NotFoundError = _subclass("NotFoundError", NOT_FOUND)
AlreadyExistsError = _subclass("AlreadyExistsError", ALREADY_EXISTS)
PermissionDeniedError = _subclass("PermissionDeniedError", PERMISSION_DENIED)
UnauthenticatedError = _subclass("UnauthenticatedError", UNAUTHENTICATED)
ResourceExhaustedError = _subclass("ResourceExhaustedError", RESOURCE_EXHAUSTED)
FailedPreconditionError = _subclass("FailedPreconditionError", FAILED_PRECONDITION)
AbortedError = _subclass("AbortedError", ABORTED)
OutOfRangeError = _subclass("OutOfRangeError", OUT_OF_RANGE)
UnimplementedError = _subclass("UnimplementedError", UNIMPLEMENTED)
InternalError = _subclass("InternalError", INTERNAL)
UnavailableError = _subclass("UnavailableError", UNAVAILABLE)
DataLossError = _subclass("DataLossError", DATA_LOSS)


# Errors found by checks that run inside a compiled step (host callbacks). The check records
# the error and lets the step finish (an exception in a callback would reach the caller as
# XLA's own runtime error, after a logged traceback); the step's caller then raises it and
# discards what the step computed.
_run_errors = []
_run_errors_lock = threading.Lock()


def report_in_run(error):
    """Records ``error`` for the step that is running (see ``take_run_error``)."""
    with _run_errors_lock:
        _run_errors.append(error)


def take_run_error():
    """The first error recorded by ``report_in_run`` since the last call, or None."""
    with _run_errors_lock:
        error = _run_errors[0] if _run_errors else None
        _run_errors.clear()
    return error


class OperatorNotAllowedInGraphError(TypeError):
    """Using a symbolic tensor as a Python ``bool`` or iterating over it."""


for _cls in (
    CancelledError,
    UnknownError,
    InvalidArgumentError,
    DeadlineExceededError,
    NotFoundError,
    AlreadyExistsError,
    PermissionDeniedError,
    UnauthenticatedError,
    ResourceExhaustedError,
    FailedPreconditionError,
    AbortedError,
    OutOfRangeError,
    UnimplementedError,
    InternalError,
    UnavailableError,
    DataLossError,
):
    _cls.__module__ = __name__
