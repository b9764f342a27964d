"""``tf.train.MonitoredSession`` and ``MonitoredTrainingSession``: a session that is created,
initialized or restored, run with hooks and closed as TF 1.x's monitored training loop does."""

import inspect
import sys
import time

from tfstyle.framework import errors, ops
from tfstyle.ops import array_ops, control_flow_ops, variables
from tfstyle.platform import tf_logging as logging

from . import basic_session_run_hooks as hooks_lib
from .coordinator import Coordinator
from .session_manager import SessionManager
from .session_run_hook import SessionRunArgs, SessionRunContext, SessionRunValues

# Errors after which a MonitoredSession recreates its session instead of failing.
_PREEMPTION_ERRORS = (errors.AbortedError, errors.UnavailableError)

# Marks an argument of MonitoredTrainingSession left unset, so that setting one of a
# secs/steps pair turns the other's default off.
USE_DEFAULT = object()


class Scaffold:
    """The ops and saver that create, initialize and check a model.

    Each one not given is taken from its graph collection (``INIT_OP``, ``READY_OP``,
    ``READY_FOR_LOCAL_INIT_OP``, ``LOCAL_INIT_OP``, ``SUMMARY_OP``, ``SAVERS``) or else built
    and added there by ``finalize()``, which also finalizes the graph.
    """

    def __init__(
        self,
        init_op=None,
        init_feed_dict=None,
        init_fn=None,
        ready_op=None,
        ready_for_local_init_op=None,
        local_init_op=None,
        summary_op=None,
        saver=None,
        copy_from_scaffold=None,
        local_init_feed_dict=None,
    ):
        if copy_from_scaffold is not None:
            if not isinstance(copy_from_scaffold, Scaffold):
                raise TypeError("copy_from_scaffold is not a Scaffold instance.")
            # Arguments given here override the copied scaffold's.

            def pick(arg, attr):
                return arg if arg is not None else getattr(copy_from_scaffold, attr)

            init_op = pick(init_op, "init_op")
            init_feed_dict = pick(init_feed_dict, "_init_feed_dict")
            init_fn = pick(init_fn, "_user_init_fn")
            ready_op = pick(ready_op, "ready_op")
            ready_for_local_init_op = pick(ready_for_local_init_op, "ready_for_local_init_op")
            local_init_op = pick(local_init_op, "local_init_op")
            local_init_feed_dict = pick(local_init_feed_dict, "_local_init_feed_dict")
            summary_op = pick(summary_op, "summary_op")
            saver = pick(saver, "saver")
        self._user_init_fn = init_fn
        self._init_fn = (lambda sess: init_fn(self, sess)) if init_fn else None
        self._init_op = init_op
        self._init_feed_dict = init_feed_dict
        self._ready_op = ready_op
        self._ready_for_local_init_op = ready_for_local_init_op
        self._local_init_op = local_init_op
        self._local_init_feed_dict = local_init_feed_dict
        self._summary_op = summary_op
        self._saver = saver

    def finalize(self):
        """Builds the missing ops (as TF names them: ``group_deps``, ``concat``, ``concat_1``,
        ``group_deps_1``, ``Merge/MergeSummary``), builds the saver and finalizes the graph."""
        if self._init_op is None:
            self._init_op = Scaffold.get_or_default(
                "init_op", ops.GraphKeys.INIT_OP, _default_init_op
            )
        if self._ready_op is None:
            self._ready_op = Scaffold.get_or_default(
                "ready_op", ops.GraphKeys.READY_OP, _default_ready_op
            )
        if self._ready_for_local_init_op is None:
            self._ready_for_local_init_op = Scaffold.get_or_default(
                "ready_for_local_init_op",
                ops.GraphKeys.READY_FOR_LOCAL_INIT_OP,
                _default_ready_for_local_init_op,
            )
        if self._local_init_op is None:
            self._local_init_op = Scaffold.get_or_default(
                "local_init_op", ops.GraphKeys.LOCAL_INIT_OP, Scaffold.default_local_init_op
            )
        if self._summary_op is None:
            from tfstyle.summary import merge_all

            self._summary_op = Scaffold.get_or_default(
                "summary_op", ops.GraphKeys.SUMMARY_OP, merge_all
            )
        if self._saver is None:
            self._saver = _get_saver_or_default()
        self._saver.build()
        ops.get_default_graph().finalize()
        logging.info("Graph was finalized.")
        return self

    @property
    def init_fn(self):
        return self._init_fn

    @property
    def init_op(self):
        return self._init_op

    @property
    def ready_op(self):
        return self._ready_op

    @property
    def ready_for_local_init_op(self):
        return self._ready_for_local_init_op

    @property
    def local_init_op(self):
        return self._local_init_op

    @property
    def local_init_feed_dict(self):
        return self._local_init_feed_dict

    @property
    def summary_op(self):
        return self._summary_op

    @property
    def saver(self):
        return self._saver

    @property
    def init_feed_dict(self):
        return self._init_feed_dict

    @staticmethod
    def get_or_default(arg_name, collection_key, default_constructor):
        """The single item of ``collection_key``, else ``default_constructor()`` (added to the
        collection unless ``None``)."""
        elements = ops.get_collection(collection_key)
        if elements:
            if len(elements) > 1:
                raise RuntimeError(
                    f"More than one item in the collection {collection_key}. Please indicate "
                    "which one to use by passing it to the tf.Scaffold constructor as:  "
                    f"tf.Scaffold({arg_name}=item to use)"
                )
            return elements[0]
        op = default_constructor()
        if op is not None:
            ops.add_to_collection(collection_key, op)
        return op

    @staticmethod
    def default_local_init_op():
        """Initializes the local variables and the lookup tables (``init_all_tables``)."""
        return control_flow_ops.group(
            variables.local_variables_initializer(), array_ops.no_op(name="init_all_tables")
        )


def _no_resources_report(name):
    # tfstyle has no resource collections: the report of resources is TF's empty one.
    from tfstyle.ops.constant_op import constant

    with ops.name_scope(name):
        return constant([], dtype="string")


def _default_init_op():
    # The second op stands for the (empty) initialization of shared resources.
    return control_flow_ops.group(
        variables.global_variables_initializer(), array_ops.no_op(name="init")
    )


def _default_ready_op():
    return array_ops.concat(
        [
            variables.report_uninitialized_variables(),
            _no_resources_report("report_uninitialized_resources"),
        ],
        0,
    )


def _default_ready_for_local_init_op():
    return array_ops.concat(
        [
            variables.report_uninitialized_variables(variables.global_variables()),
            _no_resources_report("report_uninitialized_resources"),
        ],
        0,
    )


def _get_saver_or_default():
    """The saver of the ``SAVERS`` collection, else a new sharded one added there."""
    from .saver import Saver

    key = ops.GraphKeys.SAVERS
    savers = hooks_lib._savers_collection()
    if savers:
        if len(savers) > 1:
            raise RuntimeError(
                f"More than one item in collection {key}. Please indicate which one to use by "
                "passing it to the constructor."
            )
        return savers[0]
    saver = Saver(sharded=True, allow_empty=True)
    ops.add_to_collection(key, saver)
    return saver


class SessionCreator:
    """Makes a ``tf.Session`` for a ``MonitoredSession``."""

    def create_session(self):
        raise NotImplementedError(f"create_session is not implemented for {self}.")


class _ScaffoldSessionCreator(SessionCreator):
    """What the chief and worker creators share: a scaffold, a master, a config and the
    ``SessionManager`` made (once) from the scaffold's init and ready ops."""

    def __init__(self, scaffold, master, config):
        self._scaffold = scaffold or Scaffold()
        self._session_manager = None
        self._master = master
        self._config = config

    def _get_session_manager(self):
        if self._session_manager is None:
            self._session_manager = SessionManager(
                local_init_op=self._scaffold.local_init_op,
                local_init_feed_dict=self._scaffold.local_init_feed_dict,
                ready_op=self._scaffold.ready_op,
                ready_for_local_init_op=self._scaffold.ready_for_local_init_op,
                graph=ops.get_default_graph(),
            )
        return self._session_manager


class ChiefSessionCreator(_ScaffoldSessionCreator):
    """Creates a session that restores the latest checkpoint of ``checkpoint_dir`` (or
    ``checkpoint_filename_with_path``) or else initializes the model with the scaffold."""

    def __init__(
        self,
        scaffold=None,
        master="",
        config=None,
        checkpoint_dir=None,
        checkpoint_filename_with_path=None,
    ):
        super().__init__(scaffold, master, config)
        self._checkpoint_dir = checkpoint_dir
        self._checkpoint_filename_with_path = checkpoint_filename_with_path

    def create_session(self):
        self._scaffold.finalize()
        return self._get_session_manager().prepare_session(
            self._master,
            saver=self._scaffold.saver,
            checkpoint_dir=self._checkpoint_dir,
            checkpoint_filename_with_path=self._checkpoint_filename_with_path,
            config=self._config,
            init_op=self._scaffold.init_op,
            init_feed_dict=self._scaffold.init_feed_dict,
            init_fn=self._scaffold.init_fn,
        )


class WorkerSessionCreator(_ScaffoldSessionCreator):
    """Creates a session that waits (up to ``max_wait_secs``) for the model to be ready.

    tfstyle runs in one process and each session holds its own variables, so only a model
    with nothing to initialize (or made ready by the local init op) becomes ready here.
    """

    def __init__(self, scaffold=None, master="", config=None, max_wait_secs=30 * 60):
        super().__init__(scaffold, master, config)
        self._max_wait_secs = max_wait_secs

    def create_session(self):
        self._scaffold.finalize()
        return self._get_session_manager().wait_for_session(
            self._master, config=self._config, max_wait_secs=self._max_wait_secs
        )


class _WrappedSession:
    """A session wrapper whose ``should_stop`` also asks the wrapped session."""

    def __init__(self, sess):
        self._sess = sess
        self._wrapped_is_stoppable = isinstance(sess, _WrappedSession)

    @property
    def graph(self):
        return self._sess.graph

    @property
    def sess_str(self):
        return self._sess.sess_str

    def should_stop(self):
        if self._check_stop():
            return True
        if self._sess:
            return self._wrapped_is_stoppable and self._sess.should_stop()
        return True

    def _check_stop(self):
        return False

    def close(self):
        if self._sess:
            try:
                self._sess.close()
            except _PREEMPTION_ERRORS as e:
                logging.error(
                    "An error occurred when attempting to close the session. This may be due "
                    "to a preemption in a connected worker or parameter server. Error: %s",
                    e,
                )
            finally:
                self._sess = None

    def run(self, *args, **kwargs):
        return self._sess.run(*args, **kwargs)

    def run_step_fn(self, step_fn, raw_session, run_with_hooks):
        run_with_hooks = run_with_hooks or self.run
        return step_fn(_MonitoredSession.StepContext(raw_session, run_with_hooks))


class _HookedSession(_WrappedSession):
    """Calls the hooks around each run and merges their fetches, feeds and options."""

    def __init__(self, sess, hooks):
        super().__init__(sess)
        self._hooks = hooks
        self._should_stop = False

    def _check_stop(self):
        return self._should_stop

    def run(self, fetches, feed_dict=None, options=None, run_metadata=None):
        from tfstyle.client.config import RunMetadata, RunOptions

        if self.should_stop():
            raise RuntimeError("Run called even after should_stop requested.")
        actual_fetches = {"caller": fetches}
        run_context = SessionRunContext(
            original_args=SessionRunArgs(fetches, feed_dict), session=self._sess
        )
        options = options or RunOptions()
        feed_dict = self._call_hook_before_run(run_context, actual_fetches, feed_dict, options)
        run_metadata = run_metadata or RunMetadata()
        outputs = _WrappedSession.run(
            self,
            fetches=actual_fetches,
            feed_dict=feed_dict,
            options=options,
            run_metadata=run_metadata,
        )
        for hook in self._hooks:
            hook.after_run(
                run_context,
                SessionRunValues(
                    results=outputs[hook] if hook in outputs else None,
                    options=options,
                    run_metadata=run_metadata,
                ),
            )
        self._should_stop = self._should_stop or run_context.stop_requested
        return outputs["caller"]

    def _call_hook_before_run(self, run_context, fetch_dict, user_feed_dict, options):
        hook_feeds = {}
        for hook in self._hooks:
            request = hook.before_run(run_context)
            if request is None:
                continue
            if request.fetches is not None:
                fetch_dict[hook] = request.fetches
            if request.feed_dict:
                _raise_if_feeds_intersect(
                    hook_feeds, request.feed_dict, "Same tensor is fed by two hooks."
                )
                hook_feeds.update(request.feed_dict)
            if request.options:
                _merge_run_options(options, request.options)
        if not hook_feeds:
            return user_feed_dict
        if not user_feed_dict:
            return hook_feeds
        _raise_if_feeds_intersect(
            user_feed_dict, hook_feeds, "Same tensor is fed by a SessionRunHook and user."
        )
        merged = dict(hook_feeds)
        merged.update(user_feed_dict)
        return merged


def _raise_if_feeds_intersect(feeds1, feeds2, message):
    common = set(feeds1.keys()).intersection(feeds2.keys())
    if common:
        raise RuntimeError(message + " Conflict(s): " + str(list(common)))


def _merge_run_options(options, incoming):
    """Merges a hook's ``RunOptions``: the larger trace level and timeout, either flag."""
    options.trace_level = max(options.trace_level, incoming.trace_level)
    options.timeout_in_ms = max(options.timeout_in_ms, incoming.timeout_in_ms)
    options.inter_op_thread_pool = max(options.inter_op_thread_pool, incoming.inter_op_thread_pool)
    options.output_partition_graphs = (
        options.output_partition_graphs or incoming.output_partition_graphs
    )
    options.debug_options.debug_tensor_watch_opts.extend(
        incoming.debug_options.debug_tensor_watch_opts
    )
    options.debug_options.reset_disk_byte_usage = (
        options.debug_options.reset_disk_byte_usage or incoming.debug_options.reset_disk_byte_usage
    )
    options.report_tensor_allocations_upon_oom = (
        options.report_tensor_allocations_upon_oom or incoming.report_tensor_allocations_upon_oom
    )


class _CoordinatedSession(_WrappedSession):
    """Stops when its coordinator does and re-raises the error a thread reported to it."""

    def __init__(self, sess, coord, stop_grace_period_secs=120):
        super().__init__(sess)
        self._coord = coord
        self._stop_grace_period_secs = stop_grace_period_secs

    def _check_stop(self):
        self._coord.raise_requested_exception()
        return self._coord.should_stop()

    def close(self):
        self._coord.request_stop()
        try:
            self._coord.join(
                stop_grace_period_secs=self._stop_grace_period_secs, ignore_live_threads=True
            )
        finally:
            try:
                _WrappedSession.close(self)
            except Exception:  # noqa: BLE001 - the coordinator's error is the one to report
                pass

    def run(self, *args, **kwargs):
        try:
            return self._sess.run(*args, **kwargs)
        except _PREEMPTION_ERRORS:
            raise
        except Exception:
            # A thread's preemption error may be behind this one: that one decides recovery.
            original = sys.exc_info()
            try:
                self._coord.raise_requested_exception()
            except _PREEMPTION_ERRORS:
                raise
            except Exception:
                pass
            raise original[1].with_traceback(original[2]) from None


class _RecoverableSession(_WrappedSession):
    """Recreates the session after a preemption error (``AbortedError``,
    ``UnavailableError``) and retries the run."""

    def __init__(self, sess_creator):
        self._sess_creator = sess_creator
        super().__init__(self._create_session())

    def _create_session(self):
        while True:
            try:
                return self._sess_creator.create_session()
            except _PREEMPTION_ERRORS as e:
                logging.info(
                    "An error was raised while a session was being created. This may be due to "
                    "a preemption of a connected worker or parameter server. A new session will "
                    "be created. This error may also occur due to a gRPC failure caused by high "
                    "memory or network bandwidth usage in the parameter servers. If this error "
                    "occurs repeatedly, try increasing the number of parameter servers assigned "
                    "to the job. Error: %s",
                    e,
                )

    def _check_stop(self):
        try:
            if self._sess:
                return self._sess._check_stop()
            return True
        except _PREEMPTION_ERRORS as e:
            logging.info(
                "An error was raised while considering whether the session is complete. This "
                "may be due to a preemption in a connected worker or parameter server. The "
                "current session will be closed and a new session will be created. Error: %s",
                e,
            )
            self.close()
            self._sess = self._create_session()
            return False
        except Exception:  # noqa: BLE001 - any other error means the session is finished
            return True

    def run(self, fetches, feed_dict=None, options=None, run_metadata=None):
        while True:
            try:
                if not self._sess:
                    self._sess = self._create_session()
                return self._sess.run(
                    fetches, feed_dict=feed_dict, options=options, run_metadata=run_metadata
                )
            except _PREEMPTION_ERRORS as e:
                logging.info(
                    "An error was raised. This may be due to a preemption in a connected worker "
                    "or parameter server. The current session will be closed and a new session "
                    "will be created. This error may also occur due to a gRPC failure caused by "
                    "high memory or network bandwidth usage in the parameter servers. If this "
                    "error occurs repeatedly, try increasing the number of parameter servers "
                    "assigned to the job. Error: %s",
                    e,
                )
                self.close()
                self._sess = None

    def run_step_fn(self, step_fn, raw_session, run_with_hooks):
        while True:
            try:
                if not self._sess:
                    self._sess = self._create_session()
                return self._sess.run_step_fn(step_fn, raw_session, self._sess.run)
            except _PREEMPTION_ERRORS as e:
                logging.info(
                    "An error was raised. This may be due to a preemption in a connected worker "
                    "or parameter server. The current session will be closed and a new session "
                    "will be created. Error: %s",
                    e,
                )
                self.close()
                self._sess = None


class _CoordinatedSessionCreator(SessionCreator):
    """Creates the raw session, a coordinator, starts the queue runners and calls the hooks'
    ``after_create_session``."""

    def __init__(self, session_creator, hooks, stop_grace_period_secs):
        self._session_creator = session_creator
        self._hooks = hooks
        self.coord = None
        self.tf_sess = None
        self._stop_grace_period_secs = stop_grace_period_secs

    def create_session(self):
        self.tf_sess = self._session_creator.create_session()
        # Every error a thread reports ends the session, OutOfRangeError included.
        self.coord = Coordinator(clean_stop_exception_types=[])
        for runner in ops.get_collection(ops.GraphKeys.QUEUE_RUNNERS):
            # tfstyle has no QueueRunner; an object a user put here is started as TF starts one.
            runner.create_threads(self.tf_sess, coord=self.coord, daemon=True, start=True)
        for hook in self._hooks:
            hook.after_create_session(self.tf_sess, self.coord)
        return _CoordinatedSession(
            _HookedSession(self.tf_sess, self._hooks), self.coord, self._stop_grace_period_secs
        )


class _MonitoredSession:
    """The common part of ``MonitoredSession`` and ``SingularMonitoredSession``."""

    def __init__(self, session_creator, hooks, should_recover, stop_grace_period_secs=120):
        self._graph_was_finalized = ops.get_default_graph().finalized
        self._hooks = hooks or []
        for hook in self._hooks:
            hook.begin()
        self._coordinated_creator = _CoordinatedSessionCreator(
            session_creator=session_creator or ChiefSessionCreator(),
            hooks=self._hooks,
            stop_grace_period_secs=stop_grace_period_secs,
        )
        if should_recover:
            self._sess = _RecoverableSession(self._coordinated_creator)
        else:
            self._sess = self._coordinated_creator.create_session()

    @property
    def graph(self):
        return self._tf_sess().graph

    def run(self, fetches, feed_dict=None, options=None, run_metadata=None):
        """Runs ``fetches`` like ``Session.run``, with every hook's ``before_run`` and
        ``after_run`` around it."""
        return self._sess.run(
            fetches, feed_dict=feed_dict, options=options, run_metadata=run_metadata
        )

    def run_step_fn(self, step_fn):
        """Calls ``step_fn(step_context)``, which may run the raw session and
        ``run_with_hooks``; ``step_context.request_stop()`` ends the ``with`` block."""
        names = tuple(inspect.signature(step_fn).parameters)
        if names not in (("step_context",), ("self", "step_context")):
            raise ValueError(
                "`step_fn` may either have one `step_context` argument, or `self` and "
                f"`step_context` arguments if it's an instance method. Got {names} instead."
            )
        # run_with_hooks=None: the wrapped sessions' own run, so preemption errors raised
        # inside step_fn reach the recoverable session.
        return self._sess.run_step_fn(step_fn, self._tf_sess(), run_with_hooks=None)

    class StepContext:
        """What ``run_step_fn`` passes to its function: the raw session, ``run_with_hooks``
        and ``request_stop``."""

        def __init__(self, session, run_with_hooks_fn):
            self._session = session
            self._run_with_hooks_fn = run_with_hooks_fn

        @property
        def session(self):
            return self._session

        def run_with_hooks(self, *args, **kwargs):
            return self._run_with_hooks_fn(*args, **kwargs)

        def request_stop(self):
            """Leaves ``step_fn`` and ends the ``with`` block (as its ``StopIteration``)."""
            raise StopIteration("step_fn has requested the iterations to stop.")

    def should_stop(self):
        return self._sess is None or self._sess.should_stop()

    def close(self):
        self._close_internal()

    def __enter__(self):
        return self

    def __exit__(self, exception_type, exception_value, traceback):
        if exception_type in (errors.OutOfRangeError, StopIteration):
            exception_type = None
        self._close_internal(exception_type)
        # The end of the input (OutOfRangeError, StopIteration) ends the loop quietly.
        return exception_type is None

    def _close_internal(self, exception_type=None):
        try:
            if not exception_type:
                for hook in self._hooks:
                    hook.end(self._coordinated_creator.tf_sess)
        finally:
            try:
                if self._sess is None:
                    raise RuntimeError("Session is already closed.")
                self._sess.close()
            finally:
                self._sess = None
                self._coordinated_creator.tf_sess = None
                self._coordinated_creator.coord = None
                if not self._graph_was_finalized:
                    ops.get_default_graph()._unsafe_unfinalize()

    def _tf_sess(self):
        return self._coordinated_creator.tf_sess


class MonitoredSession(_MonitoredSession):
    """A session with hooks that recreates itself after a preemption error.

    ``session_creator`` (default ``ChiefSessionCreator()``) makes the raw session; ``hooks``
    are called as ``SessionRunHook`` describes. Leaving a ``with`` block on
    ``OutOfRangeError`` or ``StopIteration`` ends it quietly, running the hooks' ``end``.
    """

    def __init__(self, session_creator=None, hooks=None, stop_grace_period_secs=120):
        super().__init__(
            session_creator,
            hooks,
            should_recover=True,
            stop_grace_period_secs=stop_grace_period_secs,
        )


class SingularMonitoredSession(_MonitoredSession):
    """A ``MonitoredSession`` without recovery, made from a scaffold, whose raw session is
    available as ``raw_session()``."""

    def __init__(
        self,
        hooks=None,
        scaffold=None,
        master="",
        config=None,
        checkpoint_dir=None,
        stop_grace_period_secs=120,
        checkpoint_filename_with_path=None,
    ):
        session_creator = ChiefSessionCreator(
            scaffold=scaffold,
            master=master,
            config=config,
            checkpoint_dir=checkpoint_dir,
            checkpoint_filename_with_path=checkpoint_filename_with_path,
        )
        super().__init__(
            session_creator,
            hooks,
            should_recover=False,
            stop_grace_period_secs=stop_grace_period_secs,
        )

    def raw_session(self):
        """The ``tf.Session`` underneath, which runs without the hooks."""
        return self._tf_sess()


def MonitoredTrainingSession(  # noqa: N802 - TF's public name
    master="",
    is_chief=True,
    checkpoint_dir=None,
    scaffold=None,
    hooks=None,
    chief_only_hooks=None,
    save_checkpoint_secs=USE_DEFAULT,
    save_summaries_steps=USE_DEFAULT,
    save_summaries_secs=USE_DEFAULT,
    config=None,
    stop_grace_period_secs=120,
    log_step_count_steps=100,
    max_wait_secs=7200,
    save_checkpoint_steps=USE_DEFAULT,
    summary_dir=None,
    save_graph_def=True,
):
    """A ``MonitoredSession`` set up for training, as TF 1.x's.

    The chief restores the latest checkpoint of ``checkpoint_dir`` (or initializes), saves
    checkpoints every ``save_checkpoint_secs`` (600 unless ``save_checkpoint_steps`` is given)
    and at the end, writes summaries every ``save_summaries_steps`` (100 unless
    ``save_summaries_secs`` is given) and ``global_step/sec`` every ``log_step_count_steps``
    to ``summary_dir`` (default ``checkpoint_dir``). Hook order: ``chief_only_hooks``, step
    counter, summary saver, checkpoint saver, ``hooks``. A non-chief waits up to
    ``max_wait_secs`` for a ready model and runs only ``hooks``.
    """
    if save_summaries_steps is USE_DEFAULT and save_summaries_secs is USE_DEFAULT:
        save_summaries_steps, save_summaries_secs = 100, None
    elif save_summaries_secs is USE_DEFAULT:
        save_summaries_secs = None
    elif save_summaries_steps is USE_DEFAULT:
        save_summaries_steps = None
    if save_checkpoint_steps is USE_DEFAULT and save_checkpoint_secs is USE_DEFAULT:
        save_checkpoint_steps, save_checkpoint_secs = None, 600
    elif save_checkpoint_secs is USE_DEFAULT:
        save_checkpoint_secs = None
    elif save_checkpoint_steps is USE_DEFAULT:
        save_checkpoint_steps = None

    scaffold = scaffold or Scaffold()
    if not is_chief:
        return MonitoredSession(
            session_creator=WorkerSessionCreator(
                scaffold=scaffold, master=master, config=config, max_wait_secs=max_wait_secs
            ),
            hooks=hooks or [],
            stop_grace_period_secs=stop_grace_period_secs,
        )

    all_hooks = list(chief_only_hooks or [])
    session_creator = ChiefSessionCreator(
        scaffold=scaffold, checkpoint_dir=checkpoint_dir, master=master, config=config
    )
    summary_dir = summary_dir or checkpoint_dir
    if summary_dir:
        if log_step_count_steps and log_step_count_steps > 0:
            all_hooks.append(
                hooks_lib.StepCounterHook(
                    output_dir=summary_dir, every_n_steps=log_step_count_steps
                )
            )
        if (save_summaries_steps and save_summaries_steps > 0) or (
            save_summaries_secs and save_summaries_secs > 0
        ):
            all_hooks.append(
                hooks_lib.SummarySaverHook(
                    scaffold=scaffold,
                    save_steps=save_summaries_steps,
                    save_secs=save_summaries_secs,
                    output_dir=summary_dir,
                )
            )
    if checkpoint_dir and (
        (save_checkpoint_secs and save_checkpoint_secs > 0)
        or (save_checkpoint_steps and save_checkpoint_steps > 0)
    ):
        all_hooks.append(
            hooks_lib.CheckpointSaverHook(
                checkpoint_dir,
                save_steps=save_checkpoint_steps,
                save_secs=save_checkpoint_secs,
                scaffold=scaffold,
                save_graph_def=save_graph_def,
            )
        )
    if hooks:
        all_hooks.extend(hooks)
    return MonitoredSession(
        session_creator=session_creator,
        hooks=all_hooks,
        stop_grace_period_secs=stop_grace_period_secs,
    )


def wait_for_new_checkpoint(checkpoint_dir, last_checkpoint=None, seconds_to_sleep=1, timeout=None):
    """The path of the latest checkpoint in ``checkpoint_dir`` once it differs from
    ``last_checkpoint``, polling every ``seconds_to_sleep``; ``None`` after ``timeout``."""
    from .saver import latest_checkpoint

    logging.info("Waiting for new checkpoint at %s", checkpoint_dir)
    stop_time = time.time() + timeout if timeout is not None else None
    while True:
        path = latest_checkpoint(checkpoint_dir)
        if path is not None and path != last_checkpoint:
            logging.info("Found new checkpoint at %s", path)
            return path
        if stop_time is not None and time.time() + seconds_to_sleep > stop_time:
            return None
        time.sleep(seconds_to_sleep)


def checkpoints_iterator(checkpoint_dir, min_interval_secs=0, timeout=None, timeout_fn=None):
    """Yields each new checkpoint path of ``checkpoint_dir``, at most one per
    ``min_interval_secs``. After ``timeout`` seconds without one it ends, unless
    ``timeout_fn()`` returns false (then it keeps waiting)."""
    checkpoint_path = None
    while True:
        new_path = wait_for_new_checkpoint(checkpoint_dir, checkpoint_path, timeout=timeout)
        if new_path is None:
            if not timeout_fn:
                logging.info("Timed-out waiting for a checkpoint.")
                return
            if timeout_fn():
                return
            continue
        start = time.time()
        checkpoint_path = new_path
        yield checkpoint_path
        remaining = start + min_interval_secs - time.time()
        if remaining > 0:
            time.sleep(remaining)
