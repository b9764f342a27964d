"""``tf.print``, ``tf.Print`` and ``tf.strings.format`` against real TF: the exact text printed
(TF's summaries of tensors of every kind), the ops' names, prints inside loops and conds, and
``first_n``."""

import re
import sys

import numpy as np
import pytest

import tfstyle.compat.v1 as tfs
from tests.oracle import tf1


def _printed(capfd, tf, build, runs=1, feeds=None):
    """What running each of ``build(tf)``'s fetches in turn, ``runs`` times, printed to stderr
    and stdout (one print per run: TF runs the ops of one run in any order)."""
    capfd.readouterr()
    with tf.Graph().as_default() as graph:
        fetches = build(tf)
        with tf.Session() as sess:
            for i in range(runs):
                for fetch in fetches if isinstance(fetches, list) else [fetches]:
                    sess.run(fetch, feeds(graph, i) if feeds else None)
        names = sorted(op.name for op in graph.get_operations() if op.type in ("Print", "PrintV2"))
    sys.stderr.flush()
    sys.stdout.flush()
    out = capfd.readouterr()
    return _LOG_LINE.sub("", out.err), out.out, names


# TF's own log lines (its first session may report that it found no GPU), not printed values.
_LOG_LINE = re.compile(r"^[IWEF]\d{4} [\d:.]+ +\d+ [\w.]+:\d+\] .*\n", re.M)


def _same_as_tf(capfd, build, runs=1, feeds=None):
    want = _printed(capfd, tf1(), build, runs, feeds)
    got = _printed(capfd, tfs, build, runs, feeds)
    assert want[0], "TF printed nothing: the comparison would be empty"
    assert got == want


def _values(tf):
    return [
        tf.constant([1.5, 2.0, 1 / 3], tf.float32),
        tf.range(10),
        tf.reshape(tf.range(12), [3, 4]),
        tf.reshape(tf.range(24), [2, 3, 4]),
        tf.constant([True, False]),
        tf.constant(["ab", 'q"uote'], tf.string),
        tf.constant(7, tf.int64),
        tf.constant(np.float16(0.1)),
        tf.constant([0.1, 1e-8, 123456789.0, np.nan, -np.inf], tf.float64),
        tf.constant([3.25, 1e-8, 123456789.0, np.inf], tf.float32),
        tf.constant([200], tf.uint8),
        tf.zeros([0]),
        tf.zeros([2, 0]),
    ]


@pytest.mark.parametrize("summarize", [3, 1, 2, -1])
def test_print_summaries_match_tf(capfd, summarize):
    _same_as_tf(capfd, lambda tf: tf.print("values:", *_values(tf), summarize=summarize))


def test_print_python_structures_sep_end_and_stdout(capfd):
    def build(tf):
        x = tf.constant([1.0, 2.0])
        return [
            tf.print({"k": x, "n": 2}, [1, x, "s"], (x,), 0.5, sep="|", end="!\n"),
            tf.print("to stdout", x, output_stream=sys.stdout),
        ]

    _same_as_tf(capfd, build)


def test_print_in_loop_and_cond_and_of_fed_values(capfd):
    def build(tf):
        n = tf.placeholder(tf.int32, [], name="n")

        def body(i, total):
            with tf.control_dependencies([tf.print("step", i, total)]):
                return i + 1, total + i

        loop = tf.while_loop(lambda i, t: i < n, body, [tf.constant(0), tf.constant(0)])
        taken = tf.cond(
            n > 2,
            lambda: tf.Print(n, [n], message="big "),
            lambda: tf.Print(n, [n], message="small "),
        )
        return [loop, taken]

    _same_as_tf(capfd, build, runs=2, feeds=lambda g, i: {"n:0": 2 + i})


def test_legacy_print_message_summarize_first_n(capfd):
    def build(tf):
        t3 = tf.reshape(tf.range(24), [2, 3, 4])
        strings = tf.constant([["a", "b"], ["c", "d"]])
        return [
            tf.Print(t3, [t3], summarize=6),
            tf.Print(t3, [tf.constant("ab"), strings, tf.constant([True, False])], message="m"),
            tf.Print(t3, [tf.constant(2.5), t3, tf.constant([0.1], tf.float64)], summarize=-1),
            tf.Print(tf.range(3), [tf.range(10)], message="first two: ", first_n=2),
            tf.Print(tf.range(3), [tf.zeros([0]), tf.range(7)]),
        ]

    _same_as_tf(capfd, build, runs=3)


def test_print_returns_its_input_and_ops_are_named_as_in_tf():
    for tf in (tf1(), tfs):
        with tf.Graph().as_default() as g:
            x = tf.placeholder(tf.float32, [None, 2])
            y = tf.Print(x, [x])
            with tf.name_scope("scope"):
                p = tf.print(x)
                q = tf.Print(x, [x], name="named")
            assert (y.name, q.name, y.shape.as_list()) == ("Print:0", "scope/named:0", [None, 2])
            assert p.type == "PrintV2" and p.inputs[0].op.type == "StringFormat"
            assert dict(p.node_def.attr)["output_stream"].s == b"stderr"
            with tf.Session() as sess:
                value = np.arange(4, dtype=np.float32).reshape(2, 2)
                np.testing.assert_array_equal(sess.run(y, {x: value}), value)
        del g


def test_string_format_matches_tf():
    def run(tf):
        with tf.Graph().as_default():
            x = tf.constant([1.5, 2.0, 1 / 3])
            m = tf.reshape(tf.range(12), [3, 4])
            outs = [
                tf.strings.format("a {} b {}", (x, m), summarize=1),
                tf.strings.format(
                    "<> and <>", [tf.constant("ab"), tf.constant(1)], placeholder="<>"
                ),
                tf.strings.format("just {}", x),
            ]
            with pytest.raises(ValueError, match="The template expects 2 tensors, but the inputs"):
                tf.strings.format("{} {}", [x])
            with tf.Session() as sess:
                return sess.run(outs)

    assert run(tfs) == run(tf1())


def test_conds_holding_prints_or_asserts_are_stateful_ifs_as_in_tf():
    def if_types(tf):
        with tf.Graph().as_default() as g:
            x = tf.placeholder(tf.float32, [3])
            p = tf.placeholder(tf.bool, [])
            tf.Assert(tf.reduce_all(x > 0), [x], name="a")
            tf.cond(p, lambda: tf.Print(x, [x]), lambda: x, name="printing")
            tf.cond(p, lambda: x + 1, lambda: x, name="plain")
            return sorted((o.name, o.type) for o in g.get_operations() if "If" in o.type)

    assert (
        if_types(tfs)
        == if_types(tf1())
        == [
            ("a/AssertGuard", "If"),
            ("plain", "StatelessIf"),
            ("printing", "If"),
        ]
    )
