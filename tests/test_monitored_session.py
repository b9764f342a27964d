"""tf.train.MonitoredTrainingSession, MonitoredSession and the session-run hooks,
differential against real TF: steps run, final values, checkpoint files, summary steps,
resuming, and the hooks' protocol."""

import glob
import os
import sys

import numpy as np
import pytest
from tensorboard.backend.event_processing import event_file_loader

import tfstyle.compat.v1 as tfs
from tests.oracle import tf1

RNG = np.random.RandomState(0)
X = RNG.randn(8, 3).astype(np.float32)
Y = RNG.randn(8, 2).astype(np.float32)
W0 = RNG.randn(3, 2).astype(np.float32)
B0 = np.zeros(2, np.float32)


def _model(tf):
    """A dense layer trained by gradient descent, with a global step and a scalar summary."""
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    y = tf.placeholder(tf.float32, [None, 2], name="y")
    step = tf.train.get_or_create_global_step()
    w = tf.get_variable("dense/kernel", initializer=W0)
    b = tf.get_variable("dense/bias", initializer=B0)
    loss = tf.reduce_mean(tf.square(tf.matmul(x, w) + b - y))
    tf.summary.scalar("loss", loss)
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss, global_step=step)
    return x, y, step, loss, train, (w, b)


def _train(tf, ckpt_dir, hooks_fn, **kwargs):
    """Runs the model under MonitoredTrainingSession until it stops; returns the number of
    runs, the final variables and the final global step."""
    with tf.Graph().as_default():
        x, y, step, loss, train, wb = _model(tf)
        final = tf.train.FinalOpsHook(list(wb) + [step])
        hooks = hooks_fn(tf, loss) + [final]
        runs = 0
        with tf.train.MonitoredTrainingSession(
            checkpoint_dir=ckpt_dir, hooks=hooks, log_step_count_steps=2, **kwargs
        ) as sess:
            while not sess.should_stop():
                sess.run(train, {x: X, y: Y})
                runs += 1
        values = final.final_ops_values
    return runs, values[:-1], int(values[-1])


def _events(logdir):
    """(step, tag) of each summary value and (step, status) of each session log."""
    values, logs = [], []
    for path in sorted(glob.glob(os.path.join(logdir, "events.out.tfevents.*"))):
        for event in event_file_loader.LegacyEventFileLoader(path).Load():
            if event.HasField("summary"):
                values.extend((event.step, v.tag) for v in event.summary.value)
            if event.HasField("session_log"):
                logs.append((event.step, event.session_log.status))
    return values, logs


def _ckpt_state(tf, ckpt_dir):
    state = tf.train.get_checkpoint_state(ckpt_dir)
    return (
        os.path.basename(state.model_checkpoint_path),
        [os.path.basename(p) for p in state.all_model_checkpoint_paths],
    )


def _stop_at(n):
    return lambda tf, loss: [tf.train.StopAtStepHook(num_steps=n)]


def test_training_matches_tf_and_resumes(tmp_path):
    tf = tf1()
    results = {}
    for name, lib in (("tf", tf), ("ours", tfs)):
        d = str(tmp_path / name)
        kwargs = dict(save_checkpoint_steps=3, save_summaries_steps=2)
        first = _train(lib, d, _stop_at(7), **kwargs)
        state1 = _ckpt_state(lib, d)
        files1 = sorted(os.listdir(d))
        second = _train(lib, d, _stop_at(4), **kwargs)
        results[name] = dict(
            first=first,
            second=second,
            state1=state1,
            state2=_ckpt_state(lib, d),
            events=_events(d),
            files=sorted(f for f in files1 if not f.startswith("events.out")),
            n_event_files=len(glob.glob(os.path.join(d, "events.out.tfevents.*"))),
        )
    tf_r, ours = results["tf"], results["ours"]
    for run in ("first", "second"):
        assert ours[run][0] == tf_r[run][0]
        assert ours[run][2] == tf_r[run][2]
        for a, e in zip(ours[run][1], tf_r[run][1]):
            np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-6)
    # The second session resumed: the global step continued from 7 to 11.
    assert ours["first"][2] == 7 and ours["second"][2] == 11
    assert ours["state1"] == tf_r["state1"]
    assert ours["state1"] == (
        "model.ckpt-7",
        ["model.ckpt-0", "model.ckpt-3", "model.ckpt-6", "model.ckpt-7"],
    )
    assert ours["state2"] == tf_r["state2"]
    assert ours["files"] == tf_r["files"]
    assert "graph.pbtxt" in ours["files"]
    assert ours["n_event_files"] == tf_r["n_event_files"]
    # global_step/sec and the checkpoint/start logs at TF's steps. TF's hooks read the step
    # "before" the run with an op unordered with the train op's increment, so under load
    # TF's stale read sometimes sees the new step and its summary steps drift by one; tfstyle
    # always reads the step before the run, and its loss summaries follow the steps TF's
    # hooks aim at: the first run, then every save_summaries_steps.
    assert sorted(ours["events"][1]) == sorted(tf_r["events"][1])

    def rate_steps(events):
        return sorted(s for s, tag in events if tag == "global_step/sec")

    assert rate_steps(ours["events"][0]) == rate_steps(tf_r["events"][0]) == [3, 5, 7, 10]
    loss_steps = sorted(s for s, tag in ours["events"][0] if tag == "loss")
    assert loss_steps == [1, 3, 5, 7, 8, 10]
    assert min(s for s, tag in tf_r["events"][0] if tag == "loss") == 1


def test_tfstyle_checkpoint_restores_in_tf(tmp_path):
    tf = tf1()
    d = str(tmp_path)
    _, values, step = _train(tfs, d, _stop_at(5), save_checkpoint_steps=2)
    with tf.Graph().as_default():
        _, _, gs, _, _, wb = _model(tf)
        with tf.train.SingularMonitoredSession(checkpoint_dir=d) as sess:
            got = sess.raw_session().run(list(wb) + [gs])
    for a, e in zip(got[:-1], values):
        np.testing.assert_allclose(a, e, rtol=1e-6)
    assert got[-1] == step == 5


class _Recorder:
    """A hook class (built on the library's SessionRunHook) that logs each call."""

    @staticmethod
    def make(tf, log, stop_after=None):
        class Hook(tf.train.SessionRunHook):
            runs = 0

            def begin(self):
                log.append("begin")

            def after_create_session(self, session, coord):
                log.append(("after_create_session", type(coord).__name__))

            def before_run(self, run_context):
                log.append(("before_run", run_context.original_args.fetches is not None))
                # The step variable itself: TF orders its read after nothing, so only its
                # shape is compared, not its value.
                return tf.train.SessionRunArgs({"g": tf.train.get_global_step()})

            def after_run(self, run_context, run_values):
                self.runs += 1
                log.append(("after_run", np.shape(run_values.results["g"])))
                if stop_after is not None and self.runs >= stop_after:
                    run_context.request_stop()

            def end(self, session):
                log.append("end")

        return Hook()


def test_hook_order_and_request_stop():
    logs = {}
    for name, lib in (("tf", tf1()), ("ours", tfs)):
        log = logs[name] = []
        with lib.Graph().as_default():
            x, y, step, loss, train, _ = _model(lib)
            hook = _Recorder.make(lib, log, stop_after=3)
            with lib.train.MonitoredSession(hooks=[hook]) as sess:
                while not sess.should_stop():
                    sess.run(train, {x: X, y: Y})
    assert logs["ours"] == logs["tf"]
    assert logs["ours"][:2] == ["begin", ("after_create_session", "Coordinator")]
    assert logs["ours"][-1] == "end"
    assert logs["ours"].count(("before_run", True)) == 3


@pytest.mark.parametrize("lib_name", ["tf", "ours"])
def test_exception_in_with_closes_without_end(lib_name):
    lib = tf1() if lib_name == "tf" else tfs
    log = []
    with lib.Graph().as_default():
        x, y, step, loss, train, _ = _model(lib)
        hook = _Recorder.make(lib, log)
        with pytest.raises(ZeroDivisionError):
            with lib.train.MonitoredSession(hooks=[hook]) as sess:
                sess.run(train, {x: X, y: Y})
                1 / 0  # noqa: B018
        assert "end" not in log
        assert sess.should_stop()
        # OutOfRangeError ends the loop quietly, and the hooks' end runs.
        log.clear()
        with lib.train.MonitoredSession(hooks=[hook]) as sess:
            raise lib.errors.OutOfRangeError(None, None, "End of sequence")
        assert log[-1] == "end"


@pytest.mark.parametrize("lib_name", ["tf", "ours"])
def test_nan_tensor_hook(lib_name):
    lib = tf1() if lib_name == "tf" else tfs
    with lib.Graph().as_default():
        x = lib.placeholder(lib.float32, [])
        lib.train.get_or_create_global_step()
        loss = lib.sqrt(x)
        with pytest.raises(lib.train.NanLossDuringTrainingError, match="NaN loss during"):
            with lib.train.MonitoredSession(hooks=[lib.train.NanTensorHook(loss)]) as sess:
                assert sess.run(loss, {x: 4.0}) == 2.0
                sess.run(loss, {x: -1.0})
        with lib.train.MonitoredSession(
            hooks=[lib.train.NanTensorHook(loss, fail_on_nan_loss=False)]
        ) as sess:
            sess.run(loss, {x: -1.0})
            assert sess.should_stop()


def test_logging_final_ops_feed_fn_hooks():
    results = {}
    for name, lib in (("tf", tf1()), ("ours", tfs)):
        with lib.Graph().as_default():
            x, y, step, loss, train, (w, b) = _model(lib)
            final = lib.train.FinalOpsHook(lib.reduce_sum(w))
            feed = lib.train.FeedFnHook(lambda x=x, y=y: {x: X, y: Y})
            logged = []
            log = lib.train.LoggingTensorHook(
                {"loss": loss},
                every_n_iter=2,
                formatter=lambda v, out=logged: out.append(v["loss"]),
            )
            with lib.train.SingularMonitoredSession(
                hooks=[feed, log, final, lib.train.StopAtStepHook(last_step=5)]
            ) as sess:
                while not sess.should_stop():
                    sess.run(train)
            results[name] = (final.final_ops_values, logged)
    np.testing.assert_allclose(results["ours"][0], results["tf"][0], rtol=1e-5)
    np.testing.assert_allclose(results["ours"][1], results["tf"][1], rtol=1e-5)
    assert len(results["ours"][1]) == 3


def test_second_or_step_timer_and_coordinator():
    for lib in (tf1(), tfs):
        t = lib.train.SecondOrStepTimer(every_steps=3)
        assert t.should_trigger_for_step(0)
        assert t.update_last_triggered_step(1) == (None, None)
        assert [t.should_trigger_for_step(s) for s in (1, 3, 4)] == [False, False, True]
        with pytest.raises(ValueError):
            lib.train.SecondOrStepTimer()
        coord = lib.train.Coordinator()
        assert not coord.should_stop()
        with coord.stop_on_exception():
            raise ValueError("boom")
        assert coord.should_stop() and coord.wait_for_stop(0)
        with pytest.raises(ValueError, match="boom"):
            coord.join()
        coord = lib.train.Coordinator()
        coord.request_stop(lib.errors.OutOfRangeError(None, None, "done"))
        coord.join()  # a clean stop is not re-raised
        coord.raise_requested_exception()


def test_checkpoints_iterator(tmp_path):
    d = str(tmp_path)
    assert list(tfs.train.checkpoints_iterator(d, timeout=0)) == []
    _train(tfs, d, _stop_at(2), save_checkpoint_steps=1)
    it = tfs.train.checkpoints_iterator(d, timeout=0)
    assert [os.path.basename(p) for p in it] == ["model.ckpt-2"]


def test_scaffold_defaults_and_resume_keeps_max_to_keep(tmp_path):
    with tfs.Graph().as_default() as g:
        _model(tfs)
        scaffold = tfs.train.Scaffold().finalize()
        assert g.finalized
        assert scaffold.init_op.name == "group_deps"
        assert scaffold.ready_op.name == "concat:0"
        assert scaffold.ready_for_local_init_op.name == "concat_1:0"
        assert scaffold.local_init_op.name == "group_deps_1"
        assert scaffold.summary_op.name == "Merge/MergeSummary:0"
        assert tfs.get_collection(tfs.GraphKeys.SAVERS) == [scaffold.saver]
        assert scaffold.saver._sharded


def test_worker_session_creator_times_out():
    with tfs.Graph().as_default():
        _model(tfs)
        creator = tfs.train.WorkerSessionCreator(max_wait_secs=0)
        with pytest.raises(tfs.errors.DeadlineExceededError, match="not ready after waiting 0"):
            creator.create_session()


def test_ready_op_lists_uninitialized_variables():
    got = {}
    for name, lib in (("tf", tf1()), ("ours", tfs)):
        with lib.Graph().as_default():
            _model(lib)
            scaffold = lib.train.Scaffold().finalize()
            with lib.Session() as sess:
                before = list(sess.run(scaffold.ready_op))
                sess.run(scaffold.init_op)
                after = list(sess.run(scaffold.ready_op))
            lib.get_default_graph()._unsafe_unfinalize()
        got[name] = (before, after)
    assert got["ours"] == got["tf"]
    assert got["ours"][0] == [b"global_step", b"dense/kernel", b"dense/bias"]


def _listener_and_step_fn_run(lib, d):
    calls = []

    class Listener(lib.train.CheckpointSaverListener):
        def begin(self):
            calls.append("begin")

        def before_save(self, session, global_step_value):
            calls.append(("before_save", int(global_step_value)))

        def after_save(self, session, global_step_value):
            calls.append(("after_save", int(global_step_value)))

        def end(self, session, global_step_value):
            calls.append(("end", int(global_step_value)))

    with lib.Graph().as_default():
        x, y, step, loss, train, _ = _model(lib)
        saver_hook = lib.train.CheckpointSaverHook(d, save_secs=600, listeners=[Listener()])
        # Without a saver or scaffold, the hook takes the one in the SAVERS collection.
        lib.add_to_collection(lib.GraphKeys.SAVERS, lib.train.Saver())

        def step_fn(step_context):
            value = step_context.run_with_hooks([train, loss], {x: X, y: Y})[1]
            if step_context.session.run(step) >= 4:
                step_context.request_stop()
            return value

        losses = []
        with lib.train.MonitoredSession(hooks=[saver_hook]) as sess:
            while not sess.should_stop():
                losses.append(sess.run_step_fn(step_fn))
    return calls, _ckpt_state(lib, d), losses


def test_default_secs_checkpoints_listener_and_step_fn(tmp_path):
    """save_secs=600: checkpoints only at creation and at the end; the listener sees them;
    run_step_fn and its request_stop end the loop."""
    got = {
        name: _listener_and_step_fn_run(lib, str(tmp_path / name))
        for name, lib in (("tf", tf1()), ("ours", tfs))
    }
    assert got["ours"][0] == got["tf"][0]
    assert got["ours"][0] == [
        "begin",
        ("before_save", 0),
        ("after_save", 0),
        ("before_save", 4),
        ("after_save", 4),
        ("end", 4),
    ]
    assert got["ours"][1] == got["tf"][1] == ("model.ckpt-4", ["model.ckpt-0", "model.ckpt-4"])
    assert len(got["ours"][2]) == len(got["tf"][2]) == 3
    np.testing.assert_allclose(got["ours"][2], got["tf"][2], rtol=1e-5)


def test_summary_saver_hook_with_summary_op(tmp_path):
    got = {}
    for name, lib in (("tf", tf1()), ("ours", tfs)):
        d = str(tmp_path / name)
        with lib.Graph().as_default():
            x, y, step, loss, train, _ = _model(lib)
            hooks = [
                lib.train.SummarySaverHook(
                    save_steps=3, output_dir=d, summary_op=lib.summary.merge_all()
                ),
                lib.train.StopAtStepHook(last_step=8),
            ]
            with lib.train.SingularMonitoredSession(hooks=hooks) as sess:
                while not sess.should_stop():
                    sess.run(train, {x: X, y: Y})
        lib.summary.FileWriterCache.clear()
        got[name] = _events(d)
    # The START log; the summaries at the first run and every 3 steps (TF's own steps can
    # drift by one under load: see test_training_matches_tf_and_resumes).
    assert got["ours"][1] == got["tf"][1] == [(1, 1)]
    assert [s for s, _ in got["ours"][0]] == [1, 4, 7]
    assert got["tf"][0][0] == (1, "loss")


def test_training_session_defaults(tmp_path):
    """Defaults: a checkpoint every 600 s (so at creation and at close only), summaries every
    100 steps (so at the first run only, here)."""
    got = {}
    for name, lib in (("tf", tf1()), ("ours", tfs)):
        d = str(tmp_path / name)
        with lib.Graph().as_default():
            x, y, step, loss, train, _ = _model(lib)
            hooks = [lib.train.StopAtStepHook(num_steps=3)]
            with lib.train.MonitoredTrainingSession(checkpoint_dir=d, hooks=hooks) as sess:
                while not sess.should_stop():
                    sess.run(train, {x: X, y: Y})
        lib.summary.FileWriterCache.clear()
        got[name] = (_ckpt_state(lib, d), _events(d))
    assert got["ours"] == got["tf"]
    assert got["ours"][0] == ("model.ckpt-3", ["model.ckpt-0", "model.ckpt-3"])
    assert got["ours"][1][0] == [(1, "loss")]


@pytest.mark.parametrize("lib_name", ["tf", "ours"])
def test_error_reported_to_coordinator_is_raised(lib_name):
    """A thread's error given to the session's coordinator is raised by should_stop, and an
    OutOfRangeError from a thread is not a clean stop there."""
    lib = tf1() if lib_name == "tf" else tfs
    coords = []

    class KeepCoord(lib.train.SessionRunHook):
        def after_create_session(self, session, coord):
            coords.append(coord)

    with lib.Graph().as_default():
        x, y, step, loss, train, _ = _model(lib)
        for error in (ValueError("from a thread"), lib.errors.OutOfRangeError(None, None, "eof")):
            with pytest.raises(type(error)):
                with lib.train.MonitoredSession(hooks=[KeepCoord()]) as sess:
                    sess.run(train, {x: X, y: Y})
                    try:
                        raise error
                    except type(error):
                        coords[-1].request_stop(sys.exc_info())
                    sess.should_stop()


def test_tf_imports_the_meta_graph_and_runs_the_ready_op(tmp_path):
    """The .meta files and graph.pbtxt that tfstyle's monitored session writes import in TF
    (the scaffold's report_uninitialized_variables written as TF's ops), and their ready op
    and saver work there."""
    tf = tf1()
    d = str(tmp_path)
    _, values, _ = _train(tfs, d, _stop_at(3), save_checkpoint_steps=2)
    with tf.Graph().as_default() as g:
        saver = tf.train.import_meta_graph(os.path.join(d, "model.ckpt-3.meta"))
        with tf.Session() as sess:
            assert list(sess.run("concat:0")) == [b"global_step", b"dense/kernel", b"dense/bias"]
            saver.restore(sess, os.path.join(d, "model.ckpt-3"))
            assert list(sess.run("concat:0")) == []
            kernel = g.get_tensor_by_name("dense/kernel/Read/ReadVariableOp:0")
            np.testing.assert_allclose(sess.run(kernel), values[0], rtol=1e-6)
    from google.protobuf import text_format

    with open(os.path.join(d, "graph.pbtxt")) as f:
        graph_def = text_format.Parse(f.read(), tf.GraphDef())
    with tf.Graph().as_default():
        tf.import_graph_def(graph_def, name="")


def _resume_imported(lib, d):
    """Imports TF's .meta and trains 2 more steps under MonitoredTrainingSession (its ready op
    and saver come from the imported collections)."""
    with lib.Graph().as_default():
        lib.train.import_meta_graph(os.path.join(d, "model.ckpt-3.meta"))
        final = lib.train.FinalOpsHook(
            ["dense/kernel/Read/ReadVariableOp:0", "global_step/Read/ReadVariableOp:0"]
        )
        hooks = [lib.train.StopAtStepHook(num_steps=2), final]
        with lib.train.MonitoredTrainingSession(
            checkpoint_dir=d, hooks=hooks, save_checkpoint_steps=1
        ) as sess:
            while not sess.should_stop():
                sess.run("GradientDescent", {"x:0": X, "y:0": Y})
    kernel, step = final.final_ops_values
    return kernel, int(step), _ckpt_state(lib, d)


def test_resume_from_tfs_meta_graph_in_both(tmp_path):
    """A TF-written .meta (TF's boolean_mask report, SaverDef collection) imports into tfstyle
    and training resumes from TF's checkpoint as in TF."""
    tf = tf1()
    got = {}
    for name, lib in (("tf", tf), ("ours", tfs)):
        d = str(tmp_path / name)
        _train(tf, d, _stop_at(3), save_checkpoint_steps=2)
        got[name] = _resume_imported(lib, d)
    np.testing.assert_allclose(got["ours"][0], got["tf"][0], rtol=1e-5)
    assert got["ours"][1:] == got["tf"][1:]
    assert got["ours"][1] == 5 and got["ours"][2][0] == "model.ckpt-5"


BIAS = "dense/bias/Read/ReadVariableOp"


def test_logging_tensor_hook_messages(caplog):
    """Tensors given by name, logged every 2 runs and at the end, as TF words the lines."""
    got = {}
    for name, lib in (("tf", tf1()), ("ours", tfs)):
        with lib.Graph().as_default():
            x, y, step, loss, train, _ = _model(lib)
            hook = lib.train.LoggingTensorHook([BIAS], every_n_iter=2, at_end=True)
            waiter = lib.train.GlobalStepWaiterHook(wait_until_step=0)
            caplog.clear()
            with caplog.at_level("INFO", logger="tensorflow"):
                with lib.train.SingularMonitoredSession(
                    hooks=[hook, waiter, lib.train.StopAtStepHook(last_step=3)]
                ) as sess:
                    while not sess.should_stop():
                        sess.run(train, {x: X[:1], y: Y[:1]})
            lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith(BIAS)]
        got[name] = [line.split(" = ")[0] + (" (sec)" if "sec)" in line else "") for line in lines]
    assert got["ours"] == got["tf"]
    assert got["ours"] == [BIAS, BIAS + " (sec)", BIAS + " (sec)"]
