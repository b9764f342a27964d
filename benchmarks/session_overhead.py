"""``Session.run`` overhead and long elementwise chains: real TF, tfstyle, a raw ``jax.jit`` call.

Targets (from the performance issue):

- a trivial ``sess.run`` (a constant) has a median time at most 3x that of a raw jitted call of
  the same function (the raw call includes converting its result to NumPy, which blocks);
- graph build time is linear in the number of ops N, and 10,000 ops build in under 1 s;
- the steady-state run of the chain is faster than real TF at every N.

Cases:

- overhead: (a) fetch a constant, (b) feed 10 floats through a placeholder and fetch it + 1,
  (c) fetch a list of 10 tensors; median microseconds per call;
- chain-N: ``x = x * 1.0001`` and ``x = x + 0.0001`` alternately, N ops in all, on a fed
  128-float vector: graph build time (raw JAX: tracing), first run (build excluded: the first
  ``sess.run``, i.e. compilation; raw JAX: the first call), steady-state run (median).

    python -m benchmarks.session_overhead [--quick] [--columns tf,jax]
"""

from __future__ import annotations

import sys

import numpy as np

from benchmarks.common import attempt, load_tf1, median_us, record, timed

NAME = "session"
TITLE = "Session.run overhead and elementwise chains"
ISOLATE = False  # no memory measured here: one subprocess per framework runs every case

CHAIN_SIZE = 128


def cases(quick: bool) -> list:
    ns = (10, 100) if quick else (100, 1000, 10000)
    return [{"id": "overhead"}] + [{"id": f"chain-{n}", "n": n} for n in ns]


def settings(quick: bool) -> dict:
    return {"budget_s": 0.05 if quick else 0.5, "chain_budget_s": 0.05 if quick else 0.5}


# --------------------------------------------------------------------------- the TF1 programs


def tf1_constant(tf):
    return tf.constant(1.0, name="c")


def tf1_feed(tf):
    x = tf.placeholder(tf.float32, [10], name="x")
    return x, x + 1.0


def tf1_ten_fetches(tf):
    return [tf.constant(float(i)) * 2.0 for i in range(10)]


def tf1_chain(tf, n: int, size: int = CHAIN_SIZE):
    x = tf.placeholder(tf.float32, [size], name="x")
    y = x
    for i in range(n):
        y = y * 1.0001 if i % 2 == 0 else y + 0.0001
    return x, y


def _in_session(tf, build):
    graph = tf.Graph()
    with graph.as_default():
        built = build()
    return tf.Session(graph=graph), built


def _tf1_overhead(tf, budget_s: float) -> dict:
    out = {}
    feed_value = np.arange(10, dtype=np.float32)

    def trivial():
        sess, c = _in_session(tf, lambda: tf1_constant(tf))
        with sess:
            return {"trivial_us": median_us(lambda: sess.run(c), budget_s=budget_s)}

    def feed():
        sess, (x, y) = _in_session(tf, lambda: tf1_feed(tf))
        with sess:
            return {"feed_us": median_us(lambda: sess.run(y, {x: feed_value}), budget_s=budget_s)}

    def fetch10():
        sess, fetches = _in_session(tf, lambda: tf1_ten_fetches(tf))
        with sess:
            return {"fetch10_us": median_us(lambda: sess.run(fetches), budget_s=budget_s)}

    attempt(out, ["trivial_us"], trivial)
    attempt(out, ["feed_us"], feed)
    attempt(out, ["fetch10_us"], fetch10)
    return out


def _tf1_chain(tf, n: int, budget_s: float) -> dict:
    value = np.ones(CHAIN_SIZE, np.float32)
    graph = tf.Graph()

    def build():
        with graph.as_default():
            return tf1_chain(tf, n)

    build_s, (x, y) = timed(build)
    with tf.Session(graph=graph) as sess:
        first_s, _ = timed(lambda: sess.run(y, {x: value}))
        steady_ms = (
            median_us(lambda: sess.run(y, {x: value}), budget_s=budget_s, min_calls=5, warmup=2)
            / 1e3
        )
    return {"build_s": build_s, "first_s": first_s, "steady_ms": steady_ms}


# --------------------------------------------------------------------------- raw jax.jit


def _jax_overhead(budget_s: float) -> dict:
    import jax
    import jax.numpy as jnp

    out = {}
    feed_value = np.arange(10, dtype=np.float32)

    def trivial():
        f = jax.jit(lambda: jnp.float32(1.0))
        return {"trivial_us": median_us(lambda: np.asarray(f()), budget_s=budget_s)}

    def feed():
        f = jax.jit(lambda x: x + 1.0)
        return {"feed_us": median_us(lambda: np.asarray(f(feed_value)), budget_s=budget_s)}

    def fetch10():
        f = jax.jit(lambda: [jnp.float32(i) * 2.0 for i in range(10)])
        return {"fetch10_us": median_us(lambda: [np.asarray(v) for v in f()], budget_s=budget_s)}

    attempt(out, ["trivial_us"], trivial)
    attempt(out, ["feed_us"], feed)
    attempt(out, ["fetch10_us"], fetch10)
    return out


def _jax_chain(n: int, budget_s: float) -> dict:
    import jax

    value = np.ones(CHAIN_SIZE, np.float32)

    def chain(y):
        for i in range(n):
            y = y * 1.0001 if i % 2 == 0 else y + 0.0001
        return y

    f = jax.jit(chain)
    build_s, _ = timed(lambda: f.trace(value))  # the call below reuses this trace
    first_s, _ = timed(lambda: np.asarray(f(value)))
    steady_ms = (
        median_us(lambda: np.asarray(f(value)), budget_s=budget_s, min_calls=5, warmup=2) / 1e3
    )
    return {"build_s": build_s, "first_s": first_s, "steady_ms": steady_ms}


# --------------------------------------------------------------------------- harness hooks


def measure_case(framework: str, case: dict, settings: dict) -> dict:
    if framework == "jax":
        if case["id"] == "overhead":
            return _jax_overhead(settings["budget_s"])
        return _jax_chain(case["n"], settings["chain_budget_s"])
    tf = load_tf1(framework)
    if case["id"] == "overhead":
        return _tf1_overhead(tf, settings["budget_s"])
    return _tf1_chain(tf, case["n"], settings["chain_budget_s"])


def records(results: dict, quick: bool) -> list:
    rows = [
        record(
            NAME,
            "sess.run(constant)",
            "median µs/call",
            "trivial_us",
            results,
            "overhead",
            target="≤ 3x raw jit",
        ),
        record(
            NAME,
            "sess.run(x + 1, feed 10 floats)",
            "median µs/call",
            "feed_us",
            results,
            "overhead",
        ),
        record(
            NAME,
            "sess.run(list of 10 fetches)",
            "median µs/call",
            "fetch10_us",
            results,
            "overhead",
        ),
    ]
    for case in cases(quick)[1:]:
        label = f"chain of {case['n']:,} ops"
        rows += [
            record(
                NAME,
                label,
                "build s (raw JAX: trace)",
                "build_s",
                results,
                case["id"],
                target="linear in N; < 1 s at 10,000",
            ),
            record(NAME, label, "first run s", "first_s", results, case["id"]),
            record(
                NAME, label, "steady run ms", "steady_ms", results, case["id"], target="< real TF"
            ),
        ]
    return rows


if __name__ == "__main__":
    from benchmarks.run_all import main

    main(["--workloads", NAME, *sys.argv[1:]])
