"""A softmax classifier of the 8x8 digits trained by ``tf.train.MonitoredTrainingSession``.

The legacy TF 1.x training loop with hooks: a global step, ``StopAtStepHook`` to end training,
a hook of its own to print the loss, checkpoints and summaries saved by steps into
``--logdir``. Run it twice and the second run resumes from the checkpoint, continuing the
global step. The test accuracy is then read in a ``SingularMonitoredSession`` that restores
the last checkpoint.

    python examples/monitored_training.py                               # on tfstyle
    TFSTYLE_BACKEND=tensorflow python examples/monitored_training.py    # on real TensorFlow
"""

import argparse
import os
import tempfile

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

if os.environ.get("TFSTYLE_BACKEND") == "tensorflow":  # the same script on real TensorFlow
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # TF 2.x: tf.layers and rnn_cell need it
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow.compat.v1 as tf

    tf.disable_eager_execution()
else:
    import tfstyle.compat.v1 as tf

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--steps", type=int, default=500, help="training steps of this run")
parser.add_argument("--batch-size", type=int, default=100)
parser.add_argument("--learning-rate", type=float, default=0.5)
parser.add_argument(
    "--logdir", default=None, help="checkpoints and summaries (default: a temp dir)"
)
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()
logdir = args.logdir or tempfile.mkdtemp(prefix="monitored_training_")

digits = load_digits()
images = (digits.data / 16.0).astype(np.float32)
labels = np.eye(10, dtype=np.float32)[digits.target]
x_train, x_test, y_train, y_test = train_test_split(
    images, labels, test_size=0.25, random_state=0, stratify=digits.target
)
rng = np.random.RandomState(args.seed)
tf.set_random_seed(args.seed)

x = tf.placeholder(tf.float32, [None, 64], name="x")
y_ = tf.placeholder(tf.float32, [None, 10], name="labels")
logits = tf.layers.dense(x, 10, name="softmax")
loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y_, logits=logits))
accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, 1), tf.argmax(y_, 1)), tf.float32))
tf.summary.scalar("loss", loss)
global_step = tf.train.get_or_create_global_step()
train_op = tf.train.GradientDescentOptimizer(args.learning_rate).minimize(
    loss, global_step=global_step
)


class PrintLossHook(tf.train.SessionRunHook):
    """Fetches the loss with every training run and prints it every 100 runs."""

    def begin(self):
        self._runs = 0

    def before_run(self, run_context):
        return tf.train.SessionRunArgs(loss)

    def after_run(self, run_context, run_values):
        self._runs += 1
        if self._runs % 100 == 0:
            print("run %d: loss %.4f" % (self._runs, run_values.results))


hooks = [
    tf.train.StopAtStepHook(num_steps=args.steps),
    tf.train.NanTensorHook(loss),
    PrintLossHook(),
]
with tf.train.MonitoredTrainingSession(
    checkpoint_dir=logdir, hooks=hooks, save_checkpoint_steps=100, save_summaries_steps=50
) as sess:
    while not sess.should_stop():
        idx = rng.randint(0, len(x_train), size=args.batch_size)
        sess.run(train_op, feed_dict={x: x_train[idx], y_: y_train[idx]})

# A fresh session restores the last checkpoint, which the training session wrote at close.
with tf.train.SingularMonitoredSession(checkpoint_dir=logdir) as sess:
    step, train_loss, train_acc = sess.run(
        [global_step, loss, accuracy], feed_dict={x: x_train, y_: y_train}
    )
    print("global step %d: loss %.4f, train accuracy %.3f" % (step, train_loss, train_acc))
    print("checkpoint: %s" % os.path.basename(tf.train.latest_checkpoint(logdir)))
    print("test accuracy: %.3f" % sess.run(accuracy, feed_dict={x: x_test, y_: y_test}))
