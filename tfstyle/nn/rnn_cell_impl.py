"""``tf.nn.rnn_cell``: recurrent cells (``BasicLSTMCell``, ``LSTMCell``, ``GRUCell``, ...).

A cell is called as ``output, new_state = cell(inputs, state)`` on one time step. On its first
call it opens a variable scope named after the cell (``basic_lstm_cell``, made unique in the
enclosing scope) and creates its variables there, so ``dynamic_rnn`` gives TF's names
(``rnn/basic_lstm_cell/kernel``); later calls reuse them. The gate layouts are TF's (LSTM: one
kernel for ``[inputs, h]`` producing gates ``i, j, f, o``), so TF's weights give TF's numbers.
"""

import collections
import hashlib
import numbers
import re
import weakref

from tfstyle.framework import dtypes, ops
from tfstyle.framework import tensor_shape as _shape
from tfstyle.framework.ops import Tensor
from tfstyle.ops import _base, array_ops, init_ops, math_ops
from tfstyle.ops import control_flow_ops as _cf
from tfstyle.ops import variable_scope as vs
from tfstyle.ops.constant_op import constant
from tfstyle.ops.linalg_ops import matmul

from . import nn_ops

_BIAS_VARIABLE_NAME = "bias"
_WEIGHTS_VARIABLE_NAME = "kernel"


def _snake_case(name):
    name = re.sub(r"(.)([A-Z][a-z0-9]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


_LAYER_NAMES = weakref.WeakKeyDictionary()  # graph -> {base name: times used}


def _unique_layer_name(base):
    from tfstyle.framework.func_graph import outermost_graph

    used = _LAYER_NAMES.setdefault(outermost_graph(), {})
    n = used.get(base, 0)
    used[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


def _check_supported_dtypes(dtype):
    if dtype is None:
        return
    dtype = dtypes.as_dtype(dtype)
    if not (dtype.is_floating or dtype.is_complex):
        raise ValueError(
            f"RNN cell only supports floating point inputs, but received dtype: {dtype!r}"
        )


def _check_rnn_cell_input_dtypes(values):
    for t in _cf._flatten(values):
        _check_supported_dtypes(t.dtype)


def assert_like_rnncell(cell_name, cell):
    """Raises ``TypeError`` unless ``cell`` has what an RNN needs of a cell."""
    conditions = [
        hasattr(cell, "output_size"),
        hasattr(cell, "state_size"),
        hasattr(cell, "get_initial_state") or hasattr(cell, "zero_state"),
        callable(cell),
    ]
    errors = [
        "'output_size' property is missing",
        "'state_size' property is missing",
        "either 'zero_state' or 'get_initial_state' method is required",
        "is not callable",
    ]
    if not all(conditions):
        errors = [e for e, ok in zip(errors, conditions) if not ok]
        raise TypeError(
            f"The argument {cell_name!r} ({cell}) is not an RNNCell: {', '.join(errors)}."
        )


def _as_shape_list(size):
    """A state or output size (int, TensorShape, list) as a list of dims."""
    if isinstance(size, Tensor):
        value = _base.constant_value(size)
        return None if value is None else [int(d) for d in value.reshape(-1)]
    s = _shape.as_shape(size)
    return None if s.ndims is None else s.as_list()


def _size_tensor(prefix):
    """``prefix`` (batch size: int or scalar tensor) as a 1-D int32 tensor, TF's ``_concat``."""
    if isinstance(prefix, Tensor):
        if prefix.shape.ndims == 0:
            return array_ops.expand_dims(prefix, 0)
        return prefix
    return constant([int(prefix)], dtype=dtypes.int32)


def _concat_sizes(prefix, suffix):
    """The shape tensor ``[prefix] + suffix`` and its static counterpart (a list or None)."""
    p = _size_tensor(prefix)
    s_list = _as_shape_list(suffix)
    s = constant(s_list, dtype=dtypes.int32)
    shape = array_ops.concat((p, s), 0)
    p_static = _base.constant_value(prefix) if isinstance(prefix, Tensor) else prefix
    if s_list is None:
        static = None
    else:
        static = [None if p_static is None else int(p_static)] + s_list
    return shape, static


def _zero_state_tensors(state_size, batch_size, dtype):
    def zeros_for(size):
        shape, _ = _concat_sizes(batch_size, size)
        z = array_ops.zeros(shape, dtype=dtype)
        # TF builds the static shape through the same helper, creating its ops again.
        _, static = _concat_sizes(batch_size, size)
        if static is not None:
            z.set_shape(static)
        return z

    flat = _cf._flatten(state_size)
    return _cf._pack(state_size, [zeros_for(s) for s in flat])


class RNNCell:
    """The base of every cell: ``state_size``, ``output_size``, ``zero_state`` and ``__call__``.

    Subclasses implement ``call(inputs, state)`` (and ``build(input_shape)`` to create variables
    with ``add_weight``), or override ``__call__`` and use ``tf.get_variable`` directly.
    """

    def __init__(self, trainable=True, name=None, dtype=None, _reuse=None, **kwargs):
        for kwarg in kwargs:
            if kwarg not in ("_scope", "input_shape", "batch_input_shape"):
                raise TypeError(f"Keyword argument not understood: {kwarg}")
        self.trainable = trainable
        self._base_name = name or _snake_case(type(self).__name__)
        self._name = name or _unique_layer_name(self._base_name)
        self._dtype = None if dtype is None else dtypes.as_dtype(dtype)
        self._reuse = _reuse
        self._scope = None
        self._rnncell_scope = None
        self.built = False
        self._trainable_weights = []
        self._non_trainable_weights = []

    # -- what dynamic_rnn asks of a cell ------------------------------------------------------
    @property
    def state_size(self):
        """Size(s) of the state: an int, a TensorShape, or a (nested) tuple of them."""
        raise NotImplementedError("Abstract method")

    @property
    def output_size(self):
        """Size of the output: an int or a TensorShape."""
        raise NotImplementedError("Abstract method")

    def zero_state(self, batch_size, dtype):
        """Zero-filled state tensor(s) of shape ``[batch_size, s]`` for each ``s`` of
        ``state_size`` (under the name scope ``<CellClass>ZeroState``)."""
        with ops.name_scope(type(self).__name__ + "ZeroState"):
            return _zero_state_tensors(self.state_size, batch_size, dtypes.as_dtype(dtype))

    def get_initial_state(self, inputs=None, batch_size=None, dtype=None):
        if inputs is not None:
            inputs = ops.convert_to_tensor(inputs, name="inputs")
            batch_size = inputs.shape.as_list()[0] or array_ops.shape(inputs)[0]
            dtype = inputs.dtype
        if batch_size is None or dtype is None:
            raise ValueError(
                "batch_size and dtype cannot be None while constructing initial state: "
                f"batch_size={batch_size}, dtype={dtype}"
            )
        return self.zero_state(batch_size, dtype)

    # -- identity and weights -----------------------------------------------------------------
    @property
    def name(self):
        return getattr(self, "_name", None) or _snake_case(type(self).__name__)

    @property
    def dtype(self):
        d = getattr(self, "_dtype", None)
        return None if d is None else d.name

    @property
    def scope_name(self):
        if self._scope is None:
            raise ValueError(
                f"No name available for layer scope because the layer {self.name!r} has not "
                "been used yet. The scope name  is determined the first time the layer instance "
                "is called. You must therefore call the layer before querying `scope_name`."
            )
        return self._scope.name

    @property
    def trainable_weights(self):
        return list(self._trainable_weights) if self.trainable else []

    @property
    def non_trainable_weights(self):
        if self.trainable:
            return list(self._non_trainable_weights)
        return self._trainable_weights + self._non_trainable_weights

    @property
    def weights(self):
        return self.trainable_weights + self.non_trainable_weights

    # Properties, not aliases, so that a subclass overrides only the two lists above.
    trainable_variables = property(lambda self: self.trainable_weights)
    non_trainable_variables = property(lambda self: self.non_trainable_weights)
    variables = property(lambda self: self.weights)

    def _track(self, variable, trainable):
        lst = self._trainable_weights if trainable else self._non_trainable_weights
        if all(variable is not v for v in lst):
            lst.append(variable)

    def _rnn_get_variable(self, getter, *args, **kwargs):
        variable = getter(*args, **kwargs)
        self._track(variable, getattr(variable, "trainable", True))
        return variable

    def add_weight(self, name, shape, dtype=None, initializer=None, trainable=True, **kwargs):
        """Gets or creates variable ``<cell scope>/<name>`` with ``tf.get_variable``."""
        dtype = dtype or self._dtype or dtypes.float32
        v = vs.get_variable(
            name, shape=shape, dtype=dtype, initializer=initializer, trainable=trainable, **kwargs
        )
        self._track(v, trainable)
        return v

    # -- calling ------------------------------------------------------------------------------
    def __call__(self, inputs, state, scope=None):
        """``(output, new_state)`` of one step: ``inputs`` is ``[batch, input_size]``, ``state``
        matches ``state_size``. ``scope`` (optional) names the cell's variable scope."""
        if scope is not None:
            with vs.variable_scope(scope, custom_getter=self._rnn_get_variable) as scope:
                return self._layer_call(inputs, state, scope)
        if self._rnncell_scope is None:
            self._rnncell_scope = vs.get_variable_scope()
        with vs.variable_scope(self._rnncell_scope, custom_getter=self._rnn_get_variable):
            return self._layer_call(inputs, state, None)

    def _set_scope(self, scope=None):
        if self._scope is None:
            if self._reuse:
                with vs.variable_scope(scope if scope is not None else self._base_name) as s:
                    self._scope = s
            else:
                with vs.variable_scope(scope, default_name=self._base_name) as s:
                    self._scope = s

    def _layer_call(self, inputs, state, scope):
        self._set_scope(scope)
        reuse = True if self.built else self._reuse
        with vs.variable_scope(self._scope, reuse=reuse, auxiliary_name_scope=False) as scope:
            with ops.name_scope(scope.original_name_scope):
                if not self.built:
                    flat = _cf._flatten(inputs)
                    first = flat[0] if flat else None
                    if self._dtype is None and isinstance(first, (Tensor,)):
                        self._dtype = first.dtype.base_dtype
                    if isinstance(first, Tensor):
                        self._check_input_rank(first)
                    self.build(first.shape if isinstance(first, Tensor) else None)
                    self.built = True
                return self.call(inputs, state)

    def _check_input_rank(self, x):
        ndim = getattr(self, "_input_ndim", None)
        if ndim is not None and x.shape.ndims is not None and x.shape.ndims != ndim:
            raise ValueError(
                f'Input 0 of layer "{self.name}" is incompatible with the layer: expected '
                f"ndim={ndim}, found ndim={x.shape.ndims}. Full shape received: "
                f"{tuple(x.shape.as_list())}"
            )

    def build(self, input_shape):
        """Creates the cell's variables (called once, on the first call)."""

    def call(self, inputs, state):
        raise NotImplementedError("Abstract method")

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, "dtype": self.dtype}


class LayerRNNCell(RNNCell):
    """A cell that creates its variables in ``build`` (as ``tf.layers`` layers do)."""

    def __call__(self, inputs, state, scope=None):
        return self._layer_call(inputs, state, scope)

    def _add_bias(self, name, size, initializer=None):
        """A bias variable of ``size``, zeros unless ``initializer`` is given."""
        if initializer is None:
            initializer = init_ops.zeros_initializer(dtype=self._dtype)
        return self.add_weight(name, shape=[size], initializer=initializer)


def _linear(args, kernel, bias):
    """``concat(args, 1) @ kernel + bias``: the gate pre-activations of a cell."""
    return nn_ops.bias_add(matmul(array_ops.concat(args, 1), kernel), bias)


def _input_depth(cell, input_shape):
    dims = _shape.as_shape(input_shape).as_list() if input_shape is not None else [None]
    if dims[-1] is None:
        raise ValueError(f"Expected inputs.shape[-1] to be known, received shape: {input_shape}")
    _check_supported_dtypes(cell._dtype)
    return dims[-1]


def _activation(activation):
    if activation is None:
        return math_ops.tanh
    if isinstance(activation, str):
        return getattr(nn_ops, activation)
    return activation


class BasicRNNCell(LayerRNNCell):
    """``output = new_state = activation(W [inputs, state] + b)``; variables ``kernel``, ``bias``."""

    _input_ndim = 2

    def __init__(self, num_units, activation=None, reuse=None, name=None, dtype=None, **kwargs):
        super().__init__(_reuse=reuse, name=name, dtype=dtype, **kwargs)
        _check_supported_dtypes(self._dtype)
        self._num_units = num_units
        self._activation = _activation(activation)

    @property
    def state_size(self):
        return self._num_units

    @property
    def output_size(self):
        return self._num_units

    def build(self, input_shape):
        depth = _input_depth(self, input_shape)
        self._kernel = self.add_weight(
            _WEIGHTS_VARIABLE_NAME, shape=[depth + self._num_units, self._num_units]
        )
        self._bias = self._add_bias(_BIAS_VARIABLE_NAME, self._num_units)

    def call(self, inputs, state):
        _check_rnn_cell_input_dtypes([inputs, state])
        gate_inputs = _linear([inputs, state], self._kernel, self._bias)
        output = self._activation(gate_inputs)
        return output, output


class GRUCell(LayerRNNCell):
    """Gated recurrent unit; variables ``gates/kernel``, ``gates/bias`` (reset and update gates,
    bias initialised to 1) and ``candidate/kernel``, ``candidate/bias``."""

    _input_ndim = 2

    def __init__(
        self,
        num_units,
        activation=None,
        reuse=None,
        kernel_initializer=None,
        bias_initializer=None,
        name=None,
        dtype=None,
        **kwargs,
    ):
        super().__init__(_reuse=reuse, name=name, dtype=dtype, **kwargs)
        _check_supported_dtypes(self._dtype)
        self._num_units = num_units
        self._activation = _activation(activation)
        self._kernel_initializer = kernel_initializer
        self._bias_initializer = bias_initializer

    @property
    def state_size(self):
        return self._num_units

    @property
    def output_size(self):
        return self._num_units

    def build(self, input_shape):
        depth = _input_depth(self, input_shape)
        n = self._num_units
        self._gate_kernel = self.add_weight(
            f"gates/{_WEIGHTS_VARIABLE_NAME}",
            shape=[depth + n, 2 * n],
            initializer=self._kernel_initializer,
        )
        self._gate_bias = self.add_weight(
            f"gates/{_BIAS_VARIABLE_NAME}",
            shape=[2 * n],
            initializer=self._bias_initializer
            if self._bias_initializer is not None
            else init_ops.constant_initializer(1.0, dtype=self._dtype),
        )
        self._candidate_kernel = self.add_weight(
            f"candidate/{_WEIGHTS_VARIABLE_NAME}",
            shape=[depth + n, n],
            initializer=self._kernel_initializer,
        )
        self._candidate_bias = self._add_bias(
            f"candidate/{_BIAS_VARIABLE_NAME}", n, self._bias_initializer
        )

    def call(self, inputs, state):
        _check_rnn_cell_input_dtypes([inputs, state])
        gate_inputs = _linear([inputs, state], self._gate_kernel, self._gate_bias)
        value = math_ops.sigmoid(gate_inputs)
        r, u = array_ops.split(value=value, num_or_size_splits=2, axis=1)
        r_state = r * state
        candidate = _linear([inputs, r_state], self._candidate_kernel, self._candidate_bias)
        c = self._activation(candidate)
        new_h = u * state + (1 - u) * c
        return new_h, new_h


class LSTMStateTuple(collections.namedtuple("LSTMStateTuple", ("c", "h"))):
    """The state of an LSTM cell: memory ``c`` and hidden state (output) ``h``."""

    __slots__ = ()

    @property
    def dtype(self):
        c, h = self
        if c.dtype != h.dtype:
            raise TypeError(f"Inconsistent dtypes for internal state: {c.dtype} vs {h.dtype}")
        return c.dtype


class BasicLSTMCell(LayerRNNCell):
    """LSTM without peepholes: one ``kernel`` for ``[inputs, h]`` producing gates ``i, j, f, o``,
    ``forget_bias`` added to ``f``; the state is ``LSTMStateTuple(c, h)`` (or ``[c, h]``
    concatenated with ``state_is_tuple=False``)."""

    _input_ndim = 2

    def __init__(
        self,
        num_units,
        forget_bias=1.0,
        state_is_tuple=True,
        activation=None,
        reuse=None,
        name=None,
        dtype=None,
        **kwargs,
    ):
        super().__init__(_reuse=reuse, name=name, dtype=dtype, **kwargs)
        _check_supported_dtypes(self._dtype)
        self._num_units = num_units
        self._forget_bias = forget_bias
        self._state_is_tuple = state_is_tuple
        self._activation = _activation(activation)

    @property
    def state_size(self):
        n = self._num_units
        return LSTMStateTuple(n, n) if self._state_is_tuple else 2 * n

    @property
    def output_size(self):
        return self._num_units

    def build(self, input_shape):
        depth = _input_depth(self, input_shape)
        n = self._num_units
        self._kernel = self.add_weight(_WEIGHTS_VARIABLE_NAME, shape=[depth + n, 4 * n])
        self._bias = self._add_bias(_BIAS_VARIABLE_NAME, 4 * n)

    def call(self, inputs, state):
        _check_rnn_cell_input_dtypes([inputs, state])
        one = constant(1, dtype=dtypes.int32)
        if self._state_is_tuple:
            c, h = state
        else:
            c, h = array_ops.split(value=state, num_or_size_splits=2, axis=one)
        gate_inputs = _linear([inputs, h], self._kernel, self._bias)
        i, j, f, o = array_ops.split(value=gate_inputs, num_or_size_splits=4, axis=one)
        forget_bias = constant(self._forget_bias, dtype=f.dtype)
        sigmoid = math_ops.sigmoid
        new_c = math_ops.add(
            math_ops.multiply(c, sigmoid(math_ops.add(f, forget_bias))),
            math_ops.multiply(sigmoid(i), self._activation(j)),
        )
        new_h = math_ops.multiply(self._activation(new_c), sigmoid(o))
        if self._state_is_tuple:
            new_state = LSTMStateTuple(new_c, new_h)
        else:
            new_state = array_ops.concat([new_c, new_h], 1)
        return new_h, new_state


class LSTMCell(LayerRNNCell):
    """LSTM with optional peepholes (``w_f_diag``, ``w_i_diag``, ``w_o_diag``), cell clipping,
    a projection of the output (``projection/kernel``, ``num_proj``) and projection clipping."""

    _input_ndim = 2

    def __init__(
        self,
        num_units,
        use_peepholes=False,
        cell_clip=None,
        initializer=None,
        num_proj=None,
        proj_clip=None,
        num_unit_shards=None,
        num_proj_shards=None,
        forget_bias=1.0,
        state_is_tuple=True,
        activation=None,
        reuse=None,
        name=None,
        dtype=None,
        **kwargs,
    ):
        super().__init__(_reuse=reuse, name=name, dtype=dtype, **kwargs)
        _check_supported_dtypes(self._dtype)
        if num_unit_shards is not None or num_proj_shards is not None:
            raise ValueError(
                "LSTMCell: num_unit_shards and num_proj_shards (partitioned variables) are not "
                "supported by tfstyle."
            )
        self._num_units = num_units
        self._use_peepholes = use_peepholes
        self._cell_clip = cell_clip
        self._initializer = initializer
        self._num_proj = num_proj
        self._proj_clip = proj_clip
        self._forget_bias = forget_bias
        self._state_is_tuple = state_is_tuple
        self._activation = _activation(activation)
        if num_proj:
            self._state_size = (
                LSTMStateTuple(num_units, num_proj) if state_is_tuple else num_units + num_proj
            )
            self._output_size = num_proj
        else:
            self._state_size = (
                LSTMStateTuple(num_units, num_units) if state_is_tuple else 2 * num_units
            )
            self._output_size = num_units

    @property
    def state_size(self):
        return self._state_size

    @property
    def output_size(self):
        return self._output_size

    def build(self, input_shape):
        depth = _input_depth(self, input_shape)
        n = self._num_units
        h_depth = n if self._num_proj is None else self._num_proj
        self._kernel = self.add_weight(
            _WEIGHTS_VARIABLE_NAME, shape=[depth + h_depth, 4 * n], initializer=self._initializer
        )
        self._bias = self._add_bias(_BIAS_VARIABLE_NAME, 4 * n)
        if self._use_peepholes:
            self._w_f_diag = self.add_weight("w_f_diag", shape=[n], initializer=self._initializer)
            self._w_i_diag = self.add_weight("w_i_diag", shape=[n], initializer=self._initializer)
            self._w_o_diag = self.add_weight("w_o_diag", shape=[n], initializer=self._initializer)
        if self._num_proj is not None:
            self._proj_kernel = self.add_weight(
                f"projection/{_WEIGHTS_VARIABLE_NAME}",
                shape=[n, self._num_proj],
                initializer=self._initializer,
            )

    def call(self, inputs, state):
        _check_rnn_cell_input_dtypes([inputs, state])
        n = self._num_units
        num_proj = n if self._num_proj is None else self._num_proj
        sigmoid = math_ops.sigmoid
        if self._state_is_tuple:
            c_prev, m_prev = state
        else:
            c_prev = array_ops.slice(state, [0, 0], [-1, n])
            m_prev = array_ops.slice(state, [0, n], [-1, num_proj])
        if inputs.shape.with_rank(2).as_list()[1] is None:
            raise ValueError(
                "Could not infer input size from inputs.get_shape()[-1]."
                f"Received input shape: {inputs.get_shape()}"
            )
        lstm_matrix = _linear([inputs, m_prev], self._kernel, self._bias)
        i, j, f, o = array_ops.split(value=lstm_matrix, num_or_size_splits=4, axis=1)
        if self._use_peepholes:
            c = sigmoid(f + self._forget_bias + self._w_f_diag * c_prev) * c_prev + sigmoid(
                i + self._w_i_diag * c_prev
            ) * self._activation(j)
        else:
            c = sigmoid(f + self._forget_bias) * c_prev + sigmoid(i) * self._activation(j)
        if self._cell_clip is not None:
            c = math_ops.clip_by_value(c, -self._cell_clip, self._cell_clip)
        if self._use_peepholes:
            m = sigmoid(o + self._w_o_diag * c) * self._activation(c)
        else:
            m = sigmoid(o) * self._activation(c)
        if self._num_proj is not None:
            m = matmul(m, self._proj_kernel)
            if self._proj_clip is not None:
                m = math_ops.clip_by_value(m, -self._proj_clip, self._proj_clip)
        new_state = LSTMStateTuple(c, m) if self._state_is_tuple else array_ops.concat([c, m], 1)
        return m, new_state


class MultiRNNCell(RNNCell):
    """Cells stacked in layers: the output of each is the input of the next; variables live in
    ``multi_rnn_cell/cell_<i>/``; the state is a tuple of the cells' states."""

    def __init__(self, cells, state_is_tuple=True):
        super().__init__()
        if not cells:
            raise ValueError("Must specify at least one cell for MultiRNNCell.")
        if not isinstance(cells, (list, tuple)):
            raise TypeError(f"cells must be a list or tuple, but received: {cells}.")
        self._cells = cells
        self._state_is_tuple = state_is_tuple
        if not state_is_tuple:
            if any(isinstance(c.state_size, (list, tuple)) for c in cells):
                raise ValueError(
                    "Some cells return tuples of states, but the flag state_is_tuple is not set. "
                    f"State sizes are: {[c.state_size for c in cells]}"
                )

    @property
    def state_size(self):
        if self._state_is_tuple:
            return tuple(cell.state_size for cell in self._cells)
        return sum(cell.state_size for cell in self._cells)

    @property
    def output_size(self):
        return self._cells[-1].output_size

    def zero_state(self, batch_size, dtype):
        with ops.name_scope(type(self).__name__ + "ZeroState"):
            if self._state_is_tuple:
                return tuple(cell.zero_state(batch_size, dtype) for cell in self._cells)
            return _zero_state_tensors(self.state_size, batch_size, dtypes.as_dtype(dtype))

    def _cell_weights(self, attr):
        out = []
        for cell in self._cells:
            out += getattr(cell, attr, [])
        return out

    @property
    def trainable_weights(self):
        return self._cell_weights("trainable_weights") if self.trainable else []

    @property
    def non_trainable_weights(self):
        weights = self._cell_weights("non_trainable_weights")
        if not self.trainable:
            return self._cell_weights("trainable_weights") + weights
        return weights

    def call(self, inputs, state):
        cur_pos = 0
        cur_inp = inputs
        new_states = []
        for i, cell in enumerate(self._cells):
            with vs.variable_scope("cell_%d" % i):
                if self._state_is_tuple:
                    if not isinstance(state, (list, tuple)):
                        raise ValueError(
                            f"Expected state to be a tuple of length {len(self.state_size)}, "
                            f"but received: {state}"
                        )
                    cur_state = state[i]
                else:
                    cur_state = array_ops.slice(state, [0, cur_pos], [-1, cell.state_size])
                    cur_pos += cell.state_size
                cur_inp, new_state = cell(cur_inp, cur_state)
                new_states.append(new_state)
        if self._state_is_tuple:
            return cur_inp, tuple(new_states)
        return cur_inp, array_ops.concat(new_states, 1)


class _RNNCellWrapper(RNNCell):
    """A cell around another cell; the wrapped cell's variables keep their names."""

    def __init__(self, cell, *args, **kwargs):
        super().__init__(*args, **kwargs)
        assert_like_rnncell("cell", cell)
        self.cell = cell

    @property
    def wrapped_cell(self):
        return self.cell

    @property
    def state_size(self):
        return self.cell.state_size

    @property
    def output_size(self):
        return self.cell.output_size

    def zero_state(self, batch_size, dtype):
        with ops.name_scope(type(self).__name__ + "ZeroState"):
            return self.cell.zero_state(batch_size, dtype)

    def __call__(self, inputs, state, scope=None):
        return self._call_wrapped_cell(inputs, state, self.cell.__call__, scope=scope)

    @property
    def trainable_weights(self):
        return getattr(self.cell, "trainable_weights", []) if self.trainable else []

    @property
    def non_trainable_weights(self):
        return getattr(self.cell, "non_trainable_weights", [])


def _default_dropout_state_filter_visitor(substate):
    if isinstance(substate, LSTMStateTuple):
        return LSTMStateTuple(c=False, h=True)  # the memory state is never dropped
    return True


def _filtered_structure(filter_fn, structure):
    """Per leaf of ``structure``: whether dropout applies (TF's traverse-shallow structure)."""
    decision = filter_fn(structure)
    if isinstance(decision, bool):
        return [decision] * len(_cf._flatten(structure))
    if isinstance(structure, (list, tuple)) and isinstance(decision, (list, tuple)):
        out = []
        for sub, d in zip(structure, decision):
            if isinstance(d, bool) and not d:
                out += [False] * len(_cf._flatten(sub))
            else:
                out += _filtered_structure(filter_fn, sub)
        return out
    return [True] * len(_cf._flatten(structure))


class DropoutWrapper(_RNNCellWrapper):
    """Dropout on the inputs, outputs and states of a cell (``input_keep_prob``,
    ``output_keep_prob``, ``state_keep_prob``; the ``c`` of an LSTM state is never dropped).

    A new mask is drawn at every time step; with ``variational_recurrent=True`` one mask per
    run is used at every step (then ``dtype``, and ``input_size`` for input dropout, are
    required). Masks are drawn from tfstyle's random streams, so they differ from TF's.
    """

    def __init__(
        self,
        cell,
        input_keep_prob=1.0,
        output_keep_prob=1.0,
        state_keep_prob=1.0,
        variational_recurrent=False,
        input_size=None,
        dtype=None,
        seed=None,
        dropout_state_filter_visitor=None,
        **kwargs,
    ):
        super().__init__(cell, dtype=dtype, **kwargs)
        if dropout_state_filter_visitor is not None and not callable(dropout_state_filter_visitor):
            raise TypeError(
                "dropout_state_filter_visitor must be callable. "
                f"Received: {dropout_state_filter_visitor}"
            )
        self._dropout_state_filter = (
            dropout_state_filter_visitor or _default_dropout_state_filter_visitor
        )
        with ops.name_scope("DropoutWrapperInit"):
            for prob, attr in (
                (input_keep_prob, "input_keep_prob"),
                (state_keep_prob, "state_keep_prob"),
                (output_keep_prob, "output_keep_prob"),
            ):
                tensor_prob = ops.convert_to_tensor(prob)
                const_prob = _base.constant_value(tensor_prob)
                if const_prob is not None:
                    if const_prob < 0 or const_prob > 1:
                        raise ValueError(
                            f"Parameter {attr} must be between 0 and 1. Received {const_prob}"
                        )
                    setattr(self, f"_{attr}", float(const_prob))
                else:
                    setattr(self, f"_{attr}", tensor_prob)
        self._variational_recurrent = variational_recurrent
        self._input_size = input_size
        self._seed = seed
        self._recurrent_input_noise = None
        self._recurrent_state_noise = None
        self._recurrent_output_noise = None
        if variational_recurrent:
            if dtype is None:
                raise ValueError("When variational_recurrent=True, dtype must be provided")
            from tfstyle.ops import random_ops

            def noise(prefix, sizes):
                flat = _cf._flatten(sizes)
                return [
                    random_ops.random_uniform(
                        [1] + _as_shape_list(s), seed=self._gen_seed(prefix, i), dtype=dtype
                    )
                    for i, s in enumerate(flat)
                ]

            if not isinstance(self._input_keep_prob, numbers.Real) or self._input_keep_prob < 1:
                if input_size is None:
                    raise ValueError(
                        "When variational_recurrent=True and input_keep_prob < 1.0 or is "
                        "unknown, input_size must be provided"
                    )
                self._recurrent_input_noise = noise("input", input_size)
            self._recurrent_state_noise = noise("state", cell.state_size)
            self._recurrent_output_noise = noise("output", cell.output_size)

    def _gen_seed(self, salt_prefix, index):
        if self._seed is None:
            return None
        string = (str(self._seed) + "%s_%d" % (salt_prefix, index)).encode("utf-8")
        return int(hashlib.md5(string).hexdigest()[:8], 16) & 0x7FFFFFFF

    def build(self, input_shape):
        self.cell.build(input_shape)

    def _dropout(self, values, salt_prefix, noise, keep_prob, apply=None):
        flat = _cf._flatten(values)
        apply = apply or [True] * len(flat)
        out = []
        for i, (v, do) in enumerate(zip(flat, apply)):
            if not do:
                out.append(v)
            elif not self._variational_recurrent:
                out.append(
                    nn_ops.dropout(v, rate=1.0 - keep_prob, seed=self._gen_seed(salt_prefix, i))
                )
            else:
                binary = math_ops.floor(keep_prob + noise[i])
                r = math_ops.divide(v, keep_prob) * binary
                r.set_shape(v.shape)
                out.append(r)
        return _cf._pack(values, out)

    def _call_wrapped_cell(self, inputs, state, cell_call_fn, **kwargs):
        def should_dropout(p):
            return (not isinstance(p, float)) or p < 1

        if should_dropout(self._input_keep_prob):
            inputs = self._dropout(
                inputs, "input", self._recurrent_input_noise, self._input_keep_prob
            )
        output, new_state = cell_call_fn(inputs, state, **kwargs)
        if should_dropout(self._state_keep_prob):
            apply = _filtered_structure(self._dropout_state_filter, new_state)
            new_state = self._dropout(
                new_state, "state", self._recurrent_state_noise, self._state_keep_prob, apply
            )
        if should_dropout(self._output_keep_prob):
            output = self._dropout(
                output, "output", self._recurrent_output_noise, self._output_keep_prob
            )
        return output, new_state


class ResidualWrapper(_RNNCellWrapper):
    """Adds the cell's inputs to its outputs (or applies ``residual_fn(inputs, outputs)``)."""

    def __init__(self, cell, residual_fn=None, **kwargs):
        super().__init__(cell, **kwargs)
        self._residual_fn = residual_fn

    def _call_wrapped_cell(self, inputs, state, cell_call_fn, **kwargs):
        outputs, new_state = cell_call_fn(inputs, state, **kwargs)

        def default_residual_fn(inputs, outputs):
            flat_in, flat_out = _cf._flatten(inputs), _cf._flatten(outputs)
            if len(flat_in) != len(flat_out):
                raise ValueError(
                    "The two structures don't have the same nested structure.\n\n"
                    f"First structure: {inputs}\n\nSecond structure: {outputs}"
                )
            for i, o in zip(flat_in, flat_out):
                i.shape.assert_is_compatible_with(o.shape)
            return _cf._pack(inputs, [i + o for i, o in zip(flat_in, flat_out)])

        res = (self._residual_fn or default_residual_fn)(inputs, outputs)
        return res, new_state


class DeviceWrapper(_RNNCellWrapper):
    """Runs the cell on ``device`` (device placement is XLA's in tfstyle)."""

    def __init__(self, cell, device, **kwargs):
        super().__init__(cell, **kwargs)
        self._device = device

    def _call_wrapped_cell(self, inputs, state, cell_call_fn, **kwargs):
        with ops.device(self._device):
            return cell_call_fn(inputs, state, **kwargs)
