"""A multilayer perceptron on the 8x8 digits that scikit-learn ships.

Two hidden ReLU layers built from raw ``tf.Variable``s (``tf.random_normal`` weights),
dropout with a ``keep_prob`` placeholder, Adam, TensorBoard summaries written by a
``tf.summary.FileWriter``, and a ``tf.train.Saver`` checkpoint that a second session restores
to measure the test accuracy.

    python examples/mlp.py --logdir /tmp/mlp                             # on tfstyle
    TFSTYLE_BACKEND=tensorflow python examples/mlp.py --logdir /tmp/mlp  # on real TensorFlow
    tensorboard --logdir /tmp/mlp
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
parser.add_argument("--steps", type=int, default=2000, help="training steps")
parser.add_argument("--batch-size", type=int, default=64)
parser.add_argument("--learning-rate", type=float, default=0.001)
parser.add_argument("--keep-prob", type=float, default=0.8, help="dropout keep probability")
parser.add_argument("--logdir", default=None, help="summaries and checkpoint (default: temp dir)")
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()
logdir = args.logdir or tempfile.mkdtemp(prefix="mlp-")

# Data: 1,797 grey-level 8x8 images (values 0..16), flattened to 64 features in [0, 1].
digits = load_digits()
images = (digits.data / 16.0).astype(np.float32)
labels = np.eye(10, dtype=np.float32)[digits.target]  # one-hot
x_train, x_test, y_train, y_test = train_test_split(
    images, labels, test_size=0.25, random_state=0, stratify=digits.target
)
rng = np.random.RandomState(args.seed)


def next_batch(batch_size):
    idx = rng.randint(0, len(x_train), size=batch_size)
    return x_train[idx], y_train[idx]


tf.set_random_seed(args.seed)

# Network parameters
n_input, n_hidden_1, n_hidden_2, n_classes = 64, 128, 64, 10

x = tf.placeholder(tf.float32, [None, n_input], name="x")
y = tf.placeholder(tf.float32, [None, n_classes], name="y")
keep_prob = tf.placeholder(tf.float32, name="keep_prob")

weights = {
    "h1": tf.Variable(tf.random_normal([n_input, n_hidden_1], stddev=0.1), name="w_h1"),
    "h2": tf.Variable(tf.random_normal([n_hidden_1, n_hidden_2], stddev=0.1), name="w_h2"),
    "out": tf.Variable(tf.random_normal([n_hidden_2, n_classes], stddev=0.1), name="w_out"),
}
biases = {
    "b1": tf.Variable(tf.zeros([n_hidden_1]), name="b1"),
    "b2": tf.Variable(tf.zeros([n_hidden_2]), name="b2"),
    "out": tf.Variable(tf.zeros([n_classes]), name="b_out"),
}


def multilayer_perceptron(x):
    layer_1 = tf.nn.relu(tf.add(tf.matmul(x, weights["h1"]), biases["b1"]))
    layer_1 = tf.nn.dropout(layer_1, keep_prob)
    layer_2 = tf.nn.relu(tf.add(tf.matmul(layer_1, weights["h2"]), biases["b2"]))
    layer_2 = tf.nn.dropout(layer_2, keep_prob)
    return tf.matmul(layer_2, weights["out"]) + biases["out"]


with tf.name_scope("model"):
    logits = multilayer_perceptron(x)

with tf.name_scope("loss"):
    loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=logits))

global_step = tf.Variable(0, name="global_step", trainable=False)
with tf.name_scope("train"):
    optimizer = tf.train.AdamOptimizer(learning_rate=args.learning_rate)
    train_op = optimizer.minimize(loss, global_step=global_step)

with tf.name_scope("accuracy"):
    correct_pred = tf.equal(tf.argmax(logits, 1), tf.argmax(y, 1))
    accuracy = tf.reduce_mean(tf.cast(correct_pred, tf.float32))

tf.summary.scalar("loss", loss)
tf.summary.scalar("accuracy", accuracy)
merged = tf.summary.merge_all()

init = tf.global_variables_initializer()
saver = tf.train.Saver()

with tf.Session() as sess:
    sess.run(init)
    writer = tf.summary.FileWriter(logdir, sess.graph)
    for step in range(1, args.steps + 1):
        batch_x, batch_y = next_batch(args.batch_size)
        _, summary = sess.run(
            [train_op, merged], feed_dict={x: batch_x, y: batch_y, keep_prob: args.keep_prob}
        )
        writer.add_summary(summary, step)
        if step % 200 == 0 or step == args.steps:
            l, acc = sess.run([loss, accuracy], feed_dict={x: x_train, y: y_train, keep_prob: 1.0})
            print("step %d: loss %.4f, train accuracy %.3f" % (step, l, acc))
    writer.close()
    save_path = saver.save(sess, os.path.join(logdir, "model.ckpt"), global_step=global_step)
    print("model saved in %s" % save_path)

# A fresh session: the variables come back from the checkpoint, not from the initializer.
with tf.Session() as sess:
    saver.restore(sess, save_path)
    print("restored at global step %d" % sess.run(global_step))
    test_acc = sess.run(accuracy, feed_dict={x: x_test, y: y_test, keep_prob: 1.0})
    print("test accuracy: %.3f" % test_acc)
