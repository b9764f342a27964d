"""Runs ``(value, update_op)`` metric pairs over feed batches, as the tf.metrics tests compare."""


def run_batches(tf, g, metrics, batches, also=None):
    """Initializes the local variables, then gives the values, each batch's update results and
    values (and ``also``'s, after each batch), and the values after a re-initialization."""
    values, updates = [v for v, _ in metrics], [u for _, u in metrics]
    out = []
    with tf.Session(graph=g) as sess:
        sess.run(tf.local_variables_initializer())
        out.append(sess.run(values))
        for batch in batches:
            feed = {g.get_tensor_by_name(k): v for k, v in batch.items()}
            out.append(sess.run(updates, feed))
            out.append(sess.run(values))
            if also is not None:
                out.append(sess.run(also))
        sess.run(tf.local_variables_initializer())
        out.append(sess.run(values))
    return out
