"""``Session``: runs fetches of a graph, holding the variables' values as a state pytree.

Each distinct ``(fetches, feeds)`` signature is planned once and compiled once (per set of
initialised variables); a steady-state ``run`` converts the feeds, calls the compiled function and
converts the fetched values back to NumPy.
"""

import collections
import contextlib
import os
import threading

import numpy as np

from tfstyle.compiler import executable as _executable
from tfstyle.compiler import fed_checks as _fed_checks
from tfstyle.compiler import lowering as _lowering
from tfstyle.compiler import plan as _plan
from tfstyle.framework import dtypes, errors
from tfstyle.framework import ops as _ops
from tfstyle.framework.indexed_slices import IndexedSlices, IndexedSlicesValue
from tfstyle.framework.ops import Operation, Tensor

# -- default session -------------------------------------------------------------------------
_local = threading.local()


def _session_stack():
    stack = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    return stack


def get_default_session():
    """The innermost session made default with ``as_default`` (or ``with Session()``)."""
    stack = _session_stack()
    return stack[-1] if stack else None


def eval_in_session(fetch, feed_dict=None, session=None):
    if session is None:
        session = get_default_session()
        if session is None:
            raise ValueError(
                "Cannot evaluate tensor using `eval()`: No default session is registered. Use "
                "`with sess.as_default()` or pass an explicit session to `eval(session=sess)`"
            )
    graph = fetch.graph
    if session.graph is not graph:
        raise ValueError(
            "Cannot use the given session to evaluate tensor: the tensor's graph is different "
            "from the session's graph."
        )
    return session.run(fetch, feed_dict)


# -- fetch structures ------------------------------------------------------------------------
class _FetchStructure:
    """Flattens a nested fetch (lists, tuples, dicts, namedtuples) and rebuilds the results."""

    __slots__ = ("elements", "rebuild")

    def __init__(self, graph, fetches):
        self.elements = []
        self.rebuild = self._flatten(graph, fetches)

    def _flatten(self, graph, f):
        if f is None:
            raise TypeError('Argument `fetch` = None has invalid type "NoneType". Cannot be None')
        if isinstance(f, (list, tuple)) and not _is_element(f):
            subs = [self._flatten(graph, x) for x in f]
            if isinstance(f, tuple) and hasattr(f, "_fields"):
                return lambda vals, t=type(f): t(*[s(vals) for s in subs])
            if isinstance(f, tuple):
                return lambda vals: tuple(s(vals) for s in subs)
            return lambda vals: [s(vals) for s in subs]
        if isinstance(f, IndexedSlices):
            parts = [None if t is None else self._flatten(graph, t) for t in _slices_parts(f)]
            return lambda vals: IndexedSlicesValue(*[p and p(vals) for p in parts])
        if isinstance(f, collections.abc.Mapping):
            items = [(k, self._flatten(graph, v)) for k, v in f.items()]
            t = type(f)
            if t is dict or t is collections.OrderedDict:
                return lambda vals: t((k, s(vals)) for k, s in items)
            return lambda vals: t({k: s(vals) for k, s in items})
        el = _as_element(graph, f)
        i = len(self.elements)
        self.elements.append(el)
        return lambda vals: vals[i]


def _slices_parts(f):
    return f.values, f.indices, f.dense_shape


def _expand_slices_feeds(feed_dict):
    """Feeds of an ``IndexedSlices`` key (an ``IndexedSlicesValue`` or a ``(values, indices[,
    dense_shape])`` tuple) become feeds of its component tensors, as in TF."""
    out = {}
    for key, value in feed_dict.items():
        if not isinstance(key, IndexedSlices):
            out[key] = value
            continue
        parts = tuple(value)
        if len(parts) not in (2, 3):
            raise ValueError(
                f"Feed value for an IndexedSlices must be (values, indices[, dense_shape]), got "
                f"{len(parts)} items"
            )
        for tensor, part in zip(_slices_parts(key), parts):
            if tensor is not None and part is not None:
                out[tensor] = part
    return out


def _is_element(x):
    return hasattr(x, "_as_graph_element")


def _as_element(graph, f):
    try:
        el = graph.as_graph_element(f, allow_tensor=True, allow_operation=True)
    except TypeError:
        raise TypeError(
            f'Argument `fetch` = {f} has invalid type "{type(f).__name__}" must be a string or '
            f"Tensor. (Can not convert a {type(f).__name__} into a Tensor or Operation.)"
        ) from None
    except ValueError as e:
        raise ValueError(
            f"Argument `fetch` = {f} cannot be interpreted as a Tensor. ({e})"
        ) from None
    except KeyError as e:
        raise ValueError(
            f'Argument `fetch` = {f} cannot be interpreted as a Tensor. ("{e.args[0]}")'
        ) from None
    if isinstance(el, Tensor) and el._dtype == dtypes.resource:
        variable = graph._ref_variables.get(el)
        if variable is not None:  # a TF 1.x ref variable's ``w:0``: its value
            if variable._graph_element is None:
                with graph.as_default(), graph.name_scope(el.op.name + "/"):
                    variable._graph_element = variable.value()
            el = variable._graph_element
    return el


def _fetch_key(f):
    """A hashable key of a fetch structure (by element identity), or None if unhashable."""
    if isinstance(f, (Tensor, Operation, str)):
        return f
    if isinstance(f, (list, tuple)) and not _is_element(f):
        return (type(f), tuple(_fetch_key(x) for x in f))
    if isinstance(f, collections.abc.Mapping):
        return (type(f), tuple((k, _fetch_key(v)) for k, v in f.items()))
    if isinstance(f, IndexedSlices):
        return (IndexedSlices, _slices_parts(f))
    return f


# -- feeds -----------------------------------------------------------------------------------
class _Feed:
    __slots__ = ("tensor", "np_dtype", "shape", "dims", "fits")

    def __init__(self, tensor):
        self.tensor = tensor
        self.np_dtype = (
            None if tensor.dtype.as_numpy_dtype is object else tensor.dtype.as_numpy_dtype
        )
        self.shape = tensor.shape
        self.dims = tensor.shape.as_tuple()
        self.fits = self.dims  # the last shape found compatible (a batch's, run after run)

    def convert(self, value):
        if isinstance(value, Tensor):
            raise TypeError(
                "The value of a feed cannot be a tf.Tensor object. Acceptable feed values "
                "include Python scalars, strings, lists, numpy ndarrays, or TensorHandles. For "
                "reference, the tensor object was " + str(value) + " which was passed to the "
                "argument `feed_dict` with key " + str(self.tensor) + "."
            )
        if self.np_dtype is None:
            arr = np.asarray(value, dtype=object)
        else:
            if isinstance(value, np.ndarray) and value.dtype == self.np_dtype:
                arr = value
            else:
                arr = np.asarray(value, dtype=self.np_dtype)
        if arr.shape != self.fits:
            if not self.shape.is_compatible_with(arr.shape):
                raise ValueError(
                    f"Cannot feed value of shape {arr.shape!r} for Tensor {self.tensor.name}, "
                    f"which has shape {self.shape}"
                )
            self.fits = arr.shape
        return arr


def _feed_tensor(graph, key):
    try:
        el = graph.as_graph_element(key, allow_tensor=True, allow_operation=False)
    except TypeError:
        raise TypeError(
            f"Cannot interpret feed_dict key as Tensor: Can not convert a {type(key).__name__} "
            "into a Tensor."
        ) from None
    except (KeyError, ValueError) as e:
        raise TypeError(f"Cannot interpret feed_dict key as Tensor: {e.args[0]}") from None
    return el


class _RunSignature:
    """Everything about one ``(fetches, feed keys)`` pair that doesn't change between runs."""

    __slots__ = ("structure", "plan", "feeds", "outputs", "host_feeds", "checks", "executables")

    def __init__(self, graph, fetches, feed_keys):
        self.structure = _FetchStructure(graph, fetches)
        feed_tensors = [_feed_tensor(graph, k) for k in feed_keys]
        self.feeds = [_Feed(t) for t in feed_tensors]
        fed_index = {t: i for i, t in enumerate(feed_tensors)}
        unique = []
        seen = set()
        for el in self.structure.elements:
            if el not in seen and not (isinstance(el, Tensor) and el in fed_index):
                seen.add(el)
                unique.append(el)
        self.plan = _plan.Plan(graph, unique, feed_tensors, host_phase=True)
        # Where each flat element's value comes from: ("feed", i), ("out", j) or None (an op).
        out_index = {}
        for el in unique:
            if isinstance(el, Tensor):
                out_index[el] = len(out_index)
        outputs = []
        for el in self.structure.elements:
            if isinstance(el, Operation):
                outputs.append(None)
            elif el in fed_index:
                outputs.append(("feed", fed_index[el]))
            elif el in self.plan.host_feeds:
                outputs.append(("host", self.plan.feeds.index(el)))
            else:
                outputs.append(("out", out_index[el]))
        self.outputs = outputs
        # Positions of fed values that stay on the host (strings): passed as None to the step.
        # The plan's feeds are the user's, then the outputs of its host phase (checkpoint reads).
        self.host_feeds = tuple(
            i for i, t in enumerate(self.plan.feeds) if _lowering.is_host_dtype(t.dtype)
        )
        # TF's checks of fed values (an id out of range), made before anything is dispatched.
        self.checks = _fed_checks.build(self.plan, len(self.feeds))
        self.executables = {}


# -- the session -----------------------------------------------------------------------------
class BaseSession:
    def __init__(self, target="", graph=None, config=None):
        if graph is None:
            graph = _ops.get_default_graph()
        elif not isinstance(graph, _ops.Graph):
            raise TypeError(f"graph must be a tf.Graph, but got {type(graph)}")
        self._graph = graph
        self._target = target
        self._config = config
        self._closed = False
        self._state = {}
        self._state_epoch = 0
        self._lock = threading.RLock()
        self._signatures = {}
        self._run_counter = 0
        self._base_seed = int.from_bytes(os.urandom(4), "little")
        self._default_ctx = None

    # -- properties ------------------------------------------------------------------------
    @property
    def graph(self):
        return self._graph

    @property
    def graph_def(self):
        return self._graph.as_graph_def()

    @property
    def sess_str(self):
        return self._target

    # -- lifecycle -------------------------------------------------------------------------
    def close(self):
        """Releases the session's state; later runs raise ``RuntimeError``."""
        self._closed = True
        self._state = {}
        self._signatures = {}

    def as_default(self):
        """A context in which this session is the default for ``eval`` and ``run``."""
        return _default_session(self)

    def __enter__(self):
        if self._default_ctx is not None:
            raise RuntimeError("Session context managers are not re-entrant.")
        self._default_ctx = _default_session(self)
        self._graph_ctx = self._graph.as_default()
        self._graph_ctx.__enter__()
        self._default_ctx.__enter__()
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            self._default_ctx.__exit__(exc_type, exc, tb)
            self._graph_ctx.__exit__(exc_type, exc, tb)
        finally:
            self._default_ctx = None
            self.close()

    def __del__(self):
        self._state = {}

    # -- state -----------------------------------------------------------------------------
    @property
    def state(self):
        """The variables' current values: a dict from variable name (``dense/kernel``) to array.

        The arrays are the live buffers; a later ``run`` that assigns a variable donates its
        buffer, so keep copies of values you need across runs.
        """
        return dict(self._state)

    @state.setter
    def state(self, new_state):
        self.load_state(new_state, replace=True)

    def load_state(self, values, replace=False):
        """Sets variables' values from a mapping of name -> array (merged, or ``replace``d)."""
        import jax.numpy as jnp

        with self._lock, _executable.x64(True):
            new = {} if replace else dict(self._state)
            for k, v in values.items():
                new[k] = jnp.asarray(v)
            self._state = new
            self._state_epoch += 1

    # -- run -------------------------------------------------------------------------------
    def run(self, fetches, feed_dict=None, options=None, run_metadata=None):
        """Runs the graph to compute ``fetches`` (nested structures allowed) given feeds."""
        if self._closed:
            raise RuntimeError("Attempted to use a closed Session.")
        graph = self._graph
        if feed_dict:
            if any(isinstance(k, IndexedSlices) for k in feed_dict):
                feed_dict = _expand_slices_feeds(feed_dict)
            feed_keys = tuple(feed_dict)
            feed_values = tuple(feed_dict.values())
        else:
            feed_keys = feed_values = ()
        try:
            key = (_fetch_key(fetches), feed_keys, graph._version)
            sig = self._signatures.get(key)
        except TypeError:  # unhashable fetch: build without caching
            key, sig = None, None
        if sig is None:
            sig = _RunSignature(graph, fetches, feed_keys)
            if key is not None:
                self._signatures[key] = sig
        feeds = tuple(f.convert(v) for f, v in zip(sig.feeds, feed_values))
        if sig.checks is not None:
            sig.checks(feeds)
        if sig.plan.host_ops:
            # Values read on the host before the run (checkpoint files) are fed to it.
            feeds += _lowering.run_host_phase(sig.plan, feeds)
        if not sig.plan.ops:
            outs = ()
        elif sig.host_feeds:
            device_feeds = tuple(None if i in sig.host_feeds else v for i, v in enumerate(feeds))
            with _lowering.host_feeds(feeds):
                outs = self._execute(sig, device_feeds)
        else:
            outs = self._execute(sig, feeds)
        vals = []
        for src in sig.outputs:
            if src is None:
                vals.append(None)
            elif src[0] == "out":
                vals.append(outs[src[1]])
            elif src[0] == "host":  # computed by the host phase: converted as fetched values
                v = np.asarray(feeds[src[1]])
                vals.append(v[()] if v.ndim == 0 and v.dtype != object else v)
            else:
                vals.append(feeds[src[1]])  # TF returns a fetched feed as fed, even 0-d
        return sig.structure.rebuild(vals)

    def _execute(self, sig, feeds):
        plan = sig.plan
        rng = None
        if plan.has_random:
            with self._lock:
                counter = self._run_counter
                self._run_counter += 1
            rng = (np.uint32(self._base_seed), np.uint32(counter))
        if not plan.touched:
            exe = sig.executables.get(0)
            if exe is None:
                exe = sig.executables[0] = _executable.Executable(plan)
            outs, _ = exe({}, {}, feeds, rng)
            return exe.finish(outs)
        if plan.written:
            with self._lock:
                return self._execute_stateful(sig, feeds, rng)
        return self._execute_stateful(sig, feeds, rng)

    def _execute_stateful(self, sig, feeds, rng):
        plan = sig.plan
        state = self._state
        for key, op in plan.initial_reads.items():
            if key not in state:
                raise errors.FailedPreconditionError(
                    None,
                    op,
                    f"Error while reading resource variable {key} from Container: localhost. "
                    "This could mean that the variable was uninitialized. Attempting to use "
                    f"uninitialized value {key}\n\t [[{{{{node {op.name}}}}}]]",
                )
        entry = sig.executables.get(self._state_epoch)
        if entry is None:
            present = [k for k in plan.touched if k in state]
            donated_keys = tuple(k for k in plan.written if k in state)
            readonly_keys = tuple(k for k in present if k not in donated_keys)
            entry = (_executable.Executable(plan), donated_keys, readonly_keys)
            sig.executables = {self._state_epoch: entry}
        exe, donated_keys, readonly_keys = entry
        donated = {k: state[k] for k in donated_keys}
        readonly = {k: state[k] for k in readonly_keys}
        outs, written = exe(donated, readonly, feeds, rng)
        if exe.passthrough:  # variables that take a value read on the host as it is
            written = dict(written)
            written.update({k: feeds[i] for k, i in exe.passthrough.items()})
        if written:
            new_state = dict(state)
            new_state.update(written)
            if len(new_state) != len(state):
                self._state_epoch += 1
            self._state = new_state
        return exe.finish(outs)

    def make_callable(self, fetches, feed_list=None, accept_options=False):
        """Returns ``f(*feed_values)`` that runs ``fetches`` with ``feed_list`` fed in order."""
        feed_list = list(feed_list or [])

        def call(*args, **kwargs):
            if len(args) != len(feed_list):
                raise ValueError(f"Expected {len(feed_list)} feed values, got {len(args)}")
            return self.run(fetches, dict(zip(feed_list, args)))

        return call

    def partial_run_setup(self, fetches, feeds=None):
        raise errors.UnimplementedError(None, None, "partial_run is not supported by tfstyle")

    def list_devices(self):
        return []

    def reset(self, *args, **kwargs):
        self._state = {}


@contextlib.contextmanager
def _default_session(sess):
    stack = _session_stack()
    stack.append(sess)
    try:
        with sess.graph.as_default():
            yield sess
    finally:
        if stack and stack[-1] is sess:
            stack.pop()
        elif sess in stack:
            stack.remove(sess)


class Session(BaseSession):
    """A TF1 session: ``Session(target='', graph=None, config=None)``."""


class InteractiveSession(BaseSession):
    """A session that installs itself as the default on construction (for shells)."""

    def __init__(self, target="", graph=None, config=None):
        super().__init__(target, graph, config)
        self._interactive_ctx = _default_session(self)
        self._interactive_ctx.__enter__()

    def close(self):
        super().close()
        ctx, self._interactive_ctx = getattr(self, "_interactive_ctx", None), None
        if ctx is not None:
            ctx.__exit__(None, None, None)
