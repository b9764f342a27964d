"""An LSTM classifier on the 8x8 digits that scikit-learn ships.

Each image is read as a sequence of 8 time steps (its rows) of 8 features; a
``tf.nn.rnn_cell.BasicLSTMCell`` unrolled by ``tf.nn.dynamic_rnn`` reads it, and the output of
the last time step goes through a ``tf.layers.dense`` layer to the 10 class logits.

    python examples/lstm.py                              # on tfstyle
    TFSTYLE_BACKEND=tensorflow python examples/lstm.py   # on real TensorFlow
"""

import argparse
import os

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
parser.add_argument("--steps", type=int, default=1000, help="training steps")
parser.add_argument("--batch-size", type=int, default=64)
parser.add_argument("--learning-rate", type=float, default=0.01)
parser.add_argument("--num-units", type=int, default=64, help="LSTM hidden units")
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()

# Data: 1,797 grey-level 8x8 images (values 0..16) scaled to [0, 1], one-hot labels.
digits = load_digits()
images = (digits.images / 16.0).astype(np.float32)  # (1797, 8, 8): 8 time steps of 8 features
labels = np.eye(10, dtype=np.float32)[digits.target]
x_train, x_test, y_train, y_test = train_test_split(
    images, labels, test_size=0.25, random_state=0, stratify=digits.target
)
rng = np.random.RandomState(args.seed)


def next_batch(batch_size):
    idx = rng.randint(0, len(x_train), size=batch_size)
    return x_train[idx], y_train[idx]


tf.set_random_seed(args.seed)

timesteps, num_input, num_classes = 8, 8, 10
x = tf.placeholder(tf.float32, [None, timesteps, num_input], name="x")
y = tf.placeholder(tf.float32, [None, num_classes], name="y")

with tf.variable_scope("rnn_classifier"):
    cell = tf.nn.rnn_cell.BasicLSTMCell(args.num_units)
    outputs, state = tf.nn.dynamic_rnn(cell, x, dtype=tf.float32)  # outputs: [batch, 8, units]
    last_output = outputs[:, -1, :]
    logits = tf.layers.dense(last_output, num_classes)

loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=logits))
train_op = tf.train.AdamOptimizer(learning_rate=args.learning_rate).minimize(loss)

correct_pred = tf.equal(tf.argmax(logits, 1), tf.argmax(y, 1))
accuracy = tf.reduce_mean(tf.cast(correct_pred, tf.float32))

with tf.Session() as sess:
    sess.run(tf.global_variables_initializer())
    for step in range(1, args.steps + 1):
        batch_x, batch_y = next_batch(args.batch_size)
        sess.run(train_op, feed_dict={x: batch_x, y: batch_y})
        if step % 100 == 0 or step == args.steps:
            l, acc = sess.run([loss, accuracy], feed_dict={x: x_train, y: y_train})
            print("step %d: loss %.4f, train accuracy %.3f" % (step, l, acc))

    print("test accuracy: %.3f" % sess.run(accuracy, feed_dict={x: x_test, y: y_test}))
