"""``tf.train.SessionRunHook`` and the values passed to hooks around each ``run``."""

import collections


class SessionRunHook:
    """Extends ``MonitoredSession.run``; every method does nothing by default.

    Order: ``begin`` (graph still modifiable), ``after_create_session``, then per run
    ``before_run`` / ``after_run``, and ``end`` when the session closes without an error.
    """

    def begin(self):
        pass

    def after_create_session(self, session, coord):
        pass

    def before_run(self, run_context):
        return None

    def after_run(self, run_context, run_values):
        pass

    def end(self, session):
        pass


class SessionRunArgs(collections.namedtuple("SessionRunArgs", ["fetches", "feed_dict", "options"])):
    """What a hook adds to a ``run``: more fetches, feeds and ``RunOptions``."""

    __slots__ = ()

    def __new__(cls, fetches, feed_dict=None, options=None):
        return super().__new__(cls, fetches, feed_dict, options)


class SessionRunContext:
    """The ``run`` being made: its caller's arguments, the session, and a stop request."""

    def __init__(self, original_args, session):
        self._original_args = original_args
        self._session = session
        self._stop_requested = False

    @property
    def original_args(self):
        return self._original_args

    @property
    def session(self):
        return self._session

    @property
    def stop_requested(self):
        return self._stop_requested

    def request_stop(self):
        """Makes ``should_stop()`` of the monitored session true after this run."""
        self._stop_requested = True


class SessionRunValues(
    collections.namedtuple("SessionRunValues", ["results", "options", "run_metadata"])
):
    """What ``after_run`` receives: the hook's fetched values, the options and run metadata."""

    __slots__ = ()
