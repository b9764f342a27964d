"""A convolutional network on the 8x8 digits that scikit-learn ships.

Built from ``tf.layers``: two ``conv2d`` + ``max_pooling2d`` blocks, ``flatten``, a ``dense``
layer with ``dropout`` switched on by a ``training`` placeholder, and a ``dense`` output
layer; integer labels with ``tf.nn.sparse_softmax_cross_entropy_with_logits``; Adam.

    python examples/cnn.py                               # on tfstyle
    TFSTYLE_BACKEND=tensorflow python examples/cnn.py    # on real TensorFlow
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
parser.add_argument("--learning-rate", type=float, default=0.001)
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()

# Data: 1,797 grey-level 8x8 images (values 0..16) scaled to [0, 1], integer labels 0..9.
digits = load_digits()
images = (digits.images / 16.0).astype(np.float32)[..., np.newaxis]  # NHWC: (1797, 8, 8, 1)
x_train, x_test, y_train, y_test = train_test_split(
    images, digits.target, test_size=0.25, random_state=0, stratify=digits.target
)
rng = np.random.RandomState(args.seed)


def next_batch(batch_size):
    idx = rng.randint(0, len(x_train), size=batch_size)
    return x_train[idx], y_train[idx]


tf.set_random_seed(args.seed)

x = tf.placeholder(tf.float32, [None, 8, 8, 1], name="x")
y = tf.placeholder(tf.int64, [None], name="y")
training = tf.placeholder(tf.bool, name="training")


def conv_net(x, training):
    conv1 = tf.layers.conv2d(x, filters=32, kernel_size=3, padding="same", activation=tf.nn.relu)
    pool1 = tf.layers.max_pooling2d(conv1, pool_size=2, strides=2)  # 4x4x32
    conv2 = tf.layers.conv2d(
        pool1, filters=64, kernel_size=[3, 3], padding="same", activation=tf.nn.relu
    )
    pool2 = tf.layers.max_pooling2d(conv2, pool_size=[2, 2], strides=2)  # 2x2x64
    flat = tf.layers.flatten(pool2)  # 256
    dense = tf.layers.dense(flat, units=128, activation=tf.nn.relu)
    dropout = tf.layers.dropout(dense, rate=0.4, training=training)
    return tf.layers.dense(dropout, units=10)


logits = conv_net(x, training)
loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
train_op = tf.train.AdamOptimizer(learning_rate=args.learning_rate).minimize(loss)

predictions = tf.argmax(logits, axis=1)
accuracy = tf.reduce_mean(tf.cast(tf.equal(predictions, y), tf.float32))

with tf.Session() as sess:
    sess.run(tf.global_variables_initializer())
    for step in range(1, args.steps + 1):
        batch_x, batch_y = next_batch(args.batch_size)
        sess.run(train_op, feed_dict={x: batch_x, y: batch_y, training: True})
        if step % 100 == 0 or step == args.steps:
            l, acc = sess.run([loss, accuracy], feed_dict={x: x_train, y: y_train, training: False})
            print("step %d: loss %.4f, train accuracy %.3f" % (step, l, acc))

    test_acc = sess.run(accuracy, feed_dict={x: x_test, y: y_test, training: False})
    print("test accuracy: %.3f" % test_acc)
