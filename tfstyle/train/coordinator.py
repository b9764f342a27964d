"""``tf.train.Coordinator``: a stop flag shared by threads, with the first error reported."""

import contextlib
import sys
import threading
import time

from tfstyle.framework import errors
from tfstyle.platform import tf_logging as logging


class Coordinator:
    """Lets threads ask one another to stop and carries the first exception reported.

    ``clean_stop_exception_types`` (default ``(OutOfRangeError,)``) are exceptions that stop
    the threads without being re-raised by ``join``.
    """

    def __init__(self, clean_stop_exception_types=None):
        if clean_stop_exception_types is None:
            clean_stop_exception_types = (errors.OutOfRangeError,)
        self._clean_stop_exception_types = tuple(clean_stop_exception_types)
        self._lock = threading.Lock()
        self._stop_event = threading.Event()
        self._exc_info_to_raise = None
        self._joined = False
        self._registered_threads = set()

    def _is_clean_stop(self, ex):
        value = ex[1] if isinstance(ex, tuple) else ex
        return isinstance(value, self._clean_stop_exception_types)

    def request_stop(self, ex=None):
        """Asks every thread to stop; ``ex`` (an exception or an ``exc_info`` triple) is kept
        to be re-raised by ``join`` unless it is a clean-stop type or one is already kept."""
        with self._lock:
            if ex is not None and self._is_clean_stop(ex):
                ex = None
            if self._joined and ex is not None:
                # After join nobody is left to re-raise it, so the caller gets it now.
                raise ex[1] if isinstance(ex, tuple) else ex
            if self._stop_event.is_set():
                return
            if ex is not None and self._exc_info_to_raise is None:
                if isinstance(ex, tuple):
                    logging.info("Error reported to Coordinator: %s", ex[1], exc_info=ex)
                    info = ex
                else:
                    logging.info("Error reported to Coordinator: %s, %s", type(ex), ex)
                    info = sys.exc_info()
                if len(info) != 3 or not info[0] or not info[1]:
                    try:
                        raise ValueError(
                            "ex must be a tuple or sys.exc_info must return the current "
                            f"exception: {info}"
                        )
                    except ValueError:
                        info = sys.exc_info()
                self._exc_info_to_raise = info
            self._stop_event.set()

    def clear_stop(self):
        """Clears the stop request and the kept exception, so the coordinator can be reused."""
        with self._lock:
            self._joined = False
            self._exc_info_to_raise = None
            self._stop_event.clear()

    def should_stop(self):
        return self._stop_event.is_set()

    @contextlib.contextmanager
    def stop_on_exception(self):
        """A context in which any exception is reported with ``request_stop`` (not raised)."""
        try:
            yield
        except:  # noqa: E722 - TF reports every exception, BaseException included
            self.request_stop(ex=sys.exc_info())

    def wait_for_stop(self, timeout=None):
        """Waits for a stop request; ``True`` once one was made, ``False`` on timeout."""
        return self._stop_event.wait(timeout)

    def register_thread(self, thread):
        with self._lock:
            self._registered_threads.add(thread)

    def join(self, threads=None, stop_grace_period_secs=120, ignore_live_threads=False):
        """Waits for the registered threads (and ``threads``) to end.

        Once a stop is requested, threads get ``stop_grace_period_secs`` more; then the kept
        exception is raised, else ``RuntimeError`` names the threads still alive (only logged
        with ``ignore_live_threads``).
        """
        with self._lock:
            threads = list(self._registered_threads.union(threads or ()))

        def alive():
            return [t for t in threads if t.is_alive()]

        while alive() and not self.wait_for_stop(1.0):
            pass
        # Growing sleeps, so fast-stopping threads cost little and slow ones few wake-ups.
        remaining = stop_grace_period_secs
        pause = 0.001
        while alive() and remaining >= 0.0:
            time.sleep(pause)
            remaining -= pause
            pause = max(min(2 * pause, remaining), 0.001)
        stragglers = [t.name for t in alive()]
        with self._lock:
            self._joined = True
            self._registered_threads = set()
            if self._exc_info_to_raise:
                raise self._exc_info_to_raise[1]
            if stragglers:
                message = "Coordinator stopped with threads still running: " + " ".join(stragglers)
                if not ignore_live_threads:
                    raise RuntimeError(message)
                logging.info(message)

    @property
    def joined(self):
        return self._joined

    def raise_requested_exception(self):
        """Raises the exception given to ``request_stop``, if any."""
        with self._lock:
            if self._exc_info_to_raise:
                raise self._exc_info_to_raise[1]
