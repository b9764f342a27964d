"""Softmax regression on the 8x8 digits that scikit-learn ships.

The classic first TensorFlow 1.x program: a placeholder for the images, one for the one-hot
labels, a weight matrix and a bias as plain ``tf.Variable``s, the softmax cross entropy, and
plain gradient descent driven by ``sess.run(train_step, feed_dict=...)``.

    python examples/softmax_regression.py                               # on tfstyle
    TFSTYLE_BACKEND=tensorflow python examples/softmax_regression.py    # on real TensorFlow
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
parser.add_argument("--batch-size", type=int, default=100)
parser.add_argument("--learning-rate", type=float, default=0.5)
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()

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

# The model: y = softmax(x W + b)
x = tf.placeholder(tf.float32, [None, 64])
W = tf.Variable(tf.zeros([64, 10]))
b = tf.Variable(tf.zeros([10]))
y = tf.matmul(x, W) + b

# The loss and the optimizer
y_ = tf.placeholder(tf.float32, [None, 10])
cross_entropy = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y_, logits=y))
train_step = tf.train.GradientDescentOptimizer(args.learning_rate).minimize(cross_entropy)

correct_prediction = tf.equal(tf.argmax(y, 1), tf.argmax(y_, 1))
accuracy = tf.reduce_mean(tf.cast(correct_prediction, tf.float32))

with tf.Session() as sess:
    sess.run(tf.global_variables_initializer())
    for step in range(1, args.steps + 1):
        batch_xs, batch_ys = next_batch(args.batch_size)
        sess.run(train_step, feed_dict={x: batch_xs, y_: batch_ys})
        if step % 100 == 0 or step == args.steps:
            loss, acc = sess.run([cross_entropy, accuracy], feed_dict={x: x_train, y_: y_train})
            print("step %d: loss %.4f, train accuracy %.3f" % (step, loss, acc))

    print("test accuracy: %.3f" % sess.run(accuracy, feed_dict={x: x_test, y_: y_test}))
