"""``tf.Print``, ``tf.print`` and ``tf.strings.format``: TF's ops ``Print``, ``PrintV2`` and
``StringFormat``, printing tensors as TF's kernels summarize them.

A print happens when the op runs, inside the compiled step (``jax.debug.callback``, ordered
with the step's other host callbacks), so a print in a loop body prints every iteration.
``StringFormat``'s string is built on the host like every string (``HostValue``).
"""

import pprint
import random
import sys

import numpy as np

from tfstyle.compiler.lowering import HostValue
from tfstyle.framework import dtypes, ops

from . import _base

# -- TF's summaries of a tensor's values --------------------------------------------------------
_NARROW_FLOATS = frozenset({"float16", "bfloat16", "float32"})


def _float_text(x, narrow):
    """The shortest of TF's two precisions that reads back as the same value."""
    short, full = (6, 9) if narrow else (15, 17)
    if not np.isfinite(x):
        return "nan" if np.isnan(x) else ("inf" if x > 0 else "-inf")
    text = f"{x:.{short}g}"
    same = np.float32(text) == np.float32(x) if narrow else float(text) == float(x)
    return text if same else f"{x:.{full}g}"


def _element_text(x, dtype, quote):
    if dtype.kind == "f" or dtype.name == "bfloat16":
        return _float_text(float(x), dtype.name in _NARROW_FLOATS)
    if dtype.kind == "b":
        return "1" if x else "0"
    if dtype.kind in "iu":
        return str(int(x))
    if dtype.kind in "OSU":
        text = _c_escape(x if isinstance(x, bytes) else str(x).encode())
        return '"' + text + '"' if quote else text
    return "?"  # TF prints no other type (complex...)


_ESCAPES = {ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t", ord('"'): '\\"',
            ord("'"): "\\'", ord("\\"): "\\\\"}  # fmt: skip


def _c_escape(data):
    """TF's escaping of a string's bytes in summaries: C escapes, octal for other control
    bytes; UTF-8 sequences kept."""
    out = bytearray()
    for b in data:
        if b in _ESCAPES:
            out += _ESCAPES[b].encode()
        elif b < 0x20 or b == 0x7F:
            out += f"\\{b:03o}".encode()
        else:
            out.append(b)
    return out.decode("utf-8", "backslashreplace")


def _dim_spacing(dim, ndims):
    if dim == ndims - 1:
        return " "
    return "\n" * (ndims - dim - 1) + " " * (dim + 1)


def summarize_v2(value, summarize):
    """TF's ``print_v2`` summary (``tf.print``, ``tf.strings.format``): nested brackets, the
    first and last ``summarize`` entries of each dimension longer than twice that."""
    arr = np.asarray(value)
    ends = arr.size if summarize < 0 else min(summarize, arr.size)
    if arr.ndim == 0:
        return _element_text(arr[()], arr.dtype, True)
    out = []

    def dim_text(dim, index):
        if dim == arr.ndim:
            out.append(_element_text(arr[index], arr.dtype, True))
            return
        out.append("[")
        count = arr.shape[dim]
        for i in range(min(ends, count)):
            if i:
                out.append(_dim_spacing(dim, arr.ndim))
            dim_text(dim + 1, (*index, i))
        if count > 2 * ends:
            out.append(_dim_spacing(dim, arr.ndim) + "...")
        for i in range(max(ends, count - ends), count):
            out.append(_dim_spacing(dim, arr.ndim))
            dim_text(dim + 1, (*index, i))
        out.append("]")

    dim_text(0, ())
    return "".join(out)


def summarize_v1(value, summarize):
    """TF's older summary (``tf.Print``): the first ``summarize`` entries in row-major order in
    nested brackets, ``...`` where entries were left out."""
    arr = np.asarray(value)
    flat = arr.reshape(-1)
    limit = flat.size if summarize < 0 else min(summarize, flat.size)
    if arr.ndim == 0:
        text = " ".join(_element_text(x, arr.dtype, False) for x in flat[:limit])
        return text + ("..." if flat.size > limit else "")
    out, position = [], [0]

    def dim_text(dim):
        if position[0] >= limit:
            return
        count = arr.shape[dim]
        if dim == arr.ndim - 1:
            for i in range(count):
                if position[0] >= limit:
                    if dim:
                        out.append("...")
                    return
                if i:
                    out.append(" ")
                out.append(_element_text(flat[position[0]], arr.dtype, False))
                position[0] += 1
            return
        for _ in range(count):
            opened = position[0] < limit
            if opened:
                out.append("[")
            dim_text(dim + 1)
            if position[0] < limit or opened:
                out.append("]")

    dim_text(0)
    return "".join(out) + ("..." if flat.size > limit else "")


# -- running a print inside the step -------------------------------------------------------------
def _as_host(value):
    """``value`` as a ``HostValue`` (strings already are; arrays are passed through)."""
    return value if isinstance(value, HostValue) else HostValue(lambda a: a, value)


def _on_run(write, inputs):
    """Calls ``write(*numpy values of inputs)`` each time the step reaches this point."""
    import jax

    host = HostValue.combine(lambda *values: values, *[_as_host(v) for v in inputs])
    # Constant strings stay on the host; everything else is passed to the callback.
    fixed = list(host.arrays)
    passed = [
        i
        for i, a in enumerate(fixed)
        if not (isinstance(a, np.ndarray) and (a.dtype == object or a.dtype.kind in "SU"))
    ]

    def callback(*arrays):
        values = list(fixed)
        for i, a in zip(passed, arrays):
            values[i] = np.asarray(a)
        write(*host.finish(*values))

    jax.debug.callback(callback, *(fixed[i] for i in passed), ordered=True)


def _stream_writer(stream):
    if stream == "stderr":
        return lambda text: (sys.stderr.write(text), sys.stderr.flush())
    if stream == "stdout":
        return lambda text: (sys.stdout.write(text), sys.stdout.flush())
    if stream.startswith("log(") and stream.endswith(")"):
        from tfstyle.platform import tf_logging

        level = stream[4:-1]
        log = getattr(tf_logging, {"warning": "warn"}.get(level, level))
        return lambda text: log(text.rstrip("\n"))
    if stream.startswith("file://"):
        path = stream[len("file://") :]

        def append(text):
            with open(path, "a", encoding="utf-8") as f:
                f.write(text)

        return append
    raise ValueError(f"Unsupported output stream {stream!r}")


# -- Print --------------------------------------------------------------------------------------
def _print_lower(op):
    message = op._attrs.get("message", "")
    first_n = op._attrs.get("first_n", -1)
    summarize = op._attrs.get("summarize", 3)
    printed = [0]

    def write(*values):
        if 0 <= first_n <= printed[0]:
            return
        printed[0] += 1
        text = message + "".join("[" + summarize_v1(v, summarize) + "]" for v in values)
        sys.stderr.write(text + "\n")
        sys.stderr.flush()

    def fn(value, *data):
        _on_run(write, data)
        return value

    return fn


_base.register_simple(
    "Print", lambda op: [(op._inputs[0].dtype, _base.dims(op._inputs[0]))], _print_lower
).is_stateful = True


def Print(input_, data, message=None, first_n=None, summarize=None, name=None):  # noqa: N802
    """``tf.Print``: ``input_`` unchanged, printing ``message`` and a summary of each tensor of
    ``data`` to stderr each time it is computed (only the first ``first_n`` times)."""
    with ops.name_scope(name, "Print", [input_]) as scope:
        input_ = ops.convert_to_tensor(input_)
        data = [ops.convert_to_tensor(d) for d in data]
        attrs = {
            "T": input_.dtype,
            "U": [d.dtype for d in data],
            "message": message or "",
            "first_n": -1 if first_n is None else first_n,
            "summarize": 3 if summarize is None else summarize,
        }
        return _base.output("Print", [input_, *data], attrs, name=scope)


# -- StringFormat and PrintV2 --------------------------------------------------------------------
def _format_lower(op):
    template = op._attrs["template"]
    placeholder = op._attrs.get("placeholder", "{}")
    summarize = op._attrs.get("summarize", 3)
    pieces = template.split(placeholder)

    def finish(*values):
        text = pieces[0]
        for value, piece in zip(values, pieces[1:]):
            text += summarize_v2(value, summarize) + piece
        return np.array(text.encode(), dtype=object)

    def fn(*inputs):
        return HostValue.combine(finish, *[_as_host(v) for v in inputs])

    return fn


_base.register_simple("StringFormat", lambda op: [(dtypes.string, ())], _format_lower)


def string_format(template, inputs, placeholder="{}", summarize=3, name=None):
    """``tf.strings.format``: ``template`` with each ``placeholder`` replaced by a summary of
    the next tensor of ``inputs``."""
    if isinstance(inputs, (list, tuple)):
        inputs = list(inputs)
    else:
        inputs = [inputs]
    if template.count(placeholder) != len(inputs):
        raise ValueError(
            f"The template expects {template.count(placeholder)} tensors, but the inputs only "
            f"has {len(inputs)}. Please ensure the number of placeholders in template matches "
            "inputs length."
        )
    with ops.name_scope(name, "StringFormat", inputs) as scope:
        tensors = [ops.convert_to_tensor(x) for x in inputs]
        attrs = {
            "T": [t.dtype for t in tensors],
            "template": template,
            "placeholder": placeholder,
            "summarize": summarize,
        }
        return _base.output("StringFormat", tensors, attrs, name=scope)


def _print_v2_lower(op):
    stream = op._attrs.get("output_stream", "stderr")
    end = op._attrs.get("end", "\n")
    write = _stream_writer(stream)

    def fn(text):
        def emit(value):
            value = np.asarray(value, dtype=object).reshape(()).item()
            write((value.decode() if isinstance(value, bytes) else str(value)) + end)

        _on_run(emit, [text])

    return fn


_base.register_simple("PrintV2", lambda op: [], _print_v2_lower).is_stateful = True


def _stream_name(output_stream):
    if output_stream is sys.stderr:
        return "stderr"
    if output_stream is sys.stdout:
        return "stdout"
    if isinstance(output_stream, str) and output_stream.startswith("file://"):
        return output_stream
    from tfstyle.platform import tf_logging

    for level in ("info", "warning", "error"):
        if output_stream is getattr(tf_logging, level, None):
            return f"log({level})"
    raise ValueError(
        f"Unsupported output stream, logging level, or file.{output_stream}. Supported streams "
        "are sys.stdout, sys.stderr, tf.logging.info, tf.logging.warning, tf.logging.error. "
        "File needs to be in the form of 'file://<filepath>'."
    )


def _placeholder_for(text):
    placeholder, rng = "{}", random.Random(5)  # TF's choice, so templates read the same
    while placeholder in text:
        placeholder += str(rng.randint(0, 9))
    return placeholder


def _flatten(structure):
    if isinstance(structure, dict):
        return [x for k in sorted(structure) for x in _flatten(structure[k])]
    if isinstance(structure, (list, tuple)):
        return [x for item in structure for x in _flatten(item)]
    return [structure]


def _pack(structure, flat):
    items = iter(flat)

    def build(s):
        if isinstance(s, dict):
            built = {k: build(s[k]) for k in sorted(s)}
            return type(s)((k, built[k]) for k in s)
        if isinstance(s, (list, tuple)):
            values = [build(item) for item in s]
            return type(s)(values) if not hasattr(s, "_fields") else type(s)(*values)
        return next(items)

    return build(structure)


def _is_tensor(x):
    return isinstance(x, ops.Tensor) or hasattr(x, "_as_graph_element")


def print_v2(*inputs, **kwargs):
    """``tf.print``: an op that prints ``inputs`` (tensors summarized as TF does, other Python
    values as ``pprint`` shows them) joined by ``sep`` and followed by ``end``. In graph mode it
    prints when run (fetch it or make it a control dependency)."""
    output_stream = kwargs.pop("output_stream", sys.stderr)
    name = kwargs.pop("name", None)
    summarize = kwargs.pop("summarize", 3)
    sep = kwargs.pop("sep", " ")
    end = kwargs.pop("end", "\n")
    if kwargs:
        raise ValueError(f"Unrecognized keyword arguments for tf.print: {kwargs}")
    stream = _stream_name(output_stream)
    free = [
        i if isinstance(i, str) else _pack(i, ["" if _is_tensor(x) else x for x in _flatten(i)])
        for i in inputs
    ]
    placeholder = _placeholder_for(" ".join(pprint.pformat(x) for x in free))
    templates, tensors = [], []
    for item in inputs:
        if isinstance(item, str):
            templates.append(item)
            continue
        parts = []
        for x in _flatten(item):
            if _is_tensor(x):
                tensors.append(x)
                parts.append(placeholder)
            else:
                parts.append(x)
        templates.append(pprint.pformat(_pack(item, parts)))
    template = sep.join(templates).replace("'" + placeholder + "'", placeholder)
    formatted = string_format(template, tensors, placeholder=placeholder, summarize=summarize)
    return _base.make_op(
        "PrintV2", [formatted], {"output_stream": stream, "end": end}, name=name or "PrintV2"
    )
