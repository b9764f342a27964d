"""tfstyle demo: a TensorFlow 1.x program, unchanged, trained on JAX.

A neural network with one hidden layer learns to read handwritten digits (the 8x8 images that
scikit-learn ships, so nothing is downloaded). Everything below is classic TF1: placeholders,
variables, a loss, an optimizer, and a session that runs the training step in a loop.

    python examples/demo.py                              # on tfstyle (JAX)
    TFSTYLE_BACKEND=tensorflow python examples/demo.py   # the same program on real TensorFlow
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

parser = argparse.ArgumentParser(description="Train a small neural network on digits.")
parser.add_argument("--steps", type=int, default=300, help="training steps")
args = parser.parse_args()

# 1. The data: 1,797 images of 8x8 pixels, flattened to 64 numbers in [0, 1]; labels one-hot.
digits = load_digits()
images = (digits.data / 16.0).astype(np.float32)
labels = np.eye(10, dtype=np.float32)[digits.target]
train_images, test_images, train_labels, test_labels = train_test_split(
    images, labels, test_size=0.25, random_state=0, stratify=digits.target
)
print("%d training images, %d test images" % (len(train_images), len(test_images)))

# 2. The graph: inputs are placeholders, parameters are variables.
tf.set_random_seed(0)
x = tf.placeholder(tf.float32, [None, 64])  # a batch of images
y_ = tf.placeholder(tf.float32, [None, 10])  # their labels

W1 = tf.Variable(tf.random_normal([64, 64], stddev=0.1))
b1 = tf.Variable(tf.zeros([64]))
hidden = tf.nn.relu(tf.matmul(x, W1) + b1)

W2 = tf.Variable(tf.random_normal([64, 10], stddev=0.1))
b2 = tf.Variable(tf.zeros([10]))
logits = tf.matmul(hidden, W2) + b2

# 3. The loss to minimise, and how: Adam adjusts every variable the loss depends on.
cross_entropy = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y_, logits=logits))
train_step = tf.train.AdamOptimizer(0.01).minimize(cross_entropy)

correct_prediction = tf.equal(tf.argmax(logits, 1), tf.argmax(y_, 1))
accuracy = tf.reduce_mean(tf.cast(correct_prediction, tf.float32))

# 4. The session runs the graph: initialise the variables, then feed batches and train.
rng = np.random.RandomState(0)
with tf.Session() as sess:
    sess.run(tf.global_variables_initializer())
    for step in range(1, args.steps + 1):
        batch = rng.randint(0, len(train_images), size=100)
        sess.run(train_step, feed_dict={x: train_images[batch], y_: train_labels[batch]})
        if step % 50 == 0 or step == args.steps:
            loss, acc = sess.run(
                [cross_entropy, accuracy], feed_dict={x: train_images, y_: train_labels}
            )
            print("step %4d: loss %.4f, train accuracy %.3f" % (step, loss, acc))

    # 5. Images the network has never seen.
    test_accuracy = sess.run(accuracy, feed_dict={x: test_images, y_: test_labels})
    print("test accuracy: %.3f" % test_accuracy)
