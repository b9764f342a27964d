"""TF 1.x optimizers as the differential tests build them: ``name -> lambda tf: optimizer``,
for real TF and tfstyle alike."""

BASIC = {
    "sgd": lambda tf: tf.train.GradientDescentOptimizer(0.1),
    "momentum": lambda tf: tf.train.MomentumOptimizer(0.1, 0.9),
    "adam": lambda tf: tf.train.AdamOptimizer(0.1),
    "rmsprop": lambda tf: tf.train.RMSPropOptimizer(0.05, momentum=0.5),
    "adagrad": lambda tf: tf.train.AdagradOptimizer(0.1),
    "adadelta": lambda tf: tf.train.AdadeltaOptimizer(1.0),
    "ftrl": lambda tf: tf.train.FtrlOptimizer(0.1, l2_shrinkage_regularization_strength=0.1),
}

PROXIMAL = {
    "proximal_sgd": lambda tf: tf.train.ProximalGradientDescentOptimizer(
        0.1, l1_regularization_strength=0.01, l2_regularization_strength=0.1
    ),
    "proximal_adagrad": lambda tf: tf.train.ProximalAdagradOptimizer(
        0.1, l1_regularization_strength=0.01, l2_regularization_strength=0.1
    ),
    "adagrad_da": lambda tf: tf.train.AdagradDAOptimizer(
        0.1,
        tf.train.get_or_create_global_step(),
        l1_regularization_strength=0.01,
        l2_regularization_strength=0.1,
    ),
}


def train_recorded(tf, build, make_opt, feeds, watched=None):
    """Builds ``build(tf)`` (its loss, and the tensors to fetch after each step, by default every
    global variable) in a new graph, trains it with ``make_opt(tf, None)`` on each feed dict of
    ``feeds`` in turn, and returns what a differential test compares: whether each gradient is
    ``IndexedSlices``, the names of the update ops, the fetched values after each step and the
    final ``{variable name: value}``."""
    g = tf.Graph()
    with g.as_default():
        loss, fetched = build(tf)
        opt = make_opt(tf, None)
        grads_and_vars = opt.compute_gradients(loss)
        kinds = [isinstance(gr, tf.IndexedSlices) for gr, _ in grads_and_vars]
        train_op = opt.apply_gradients(grads_and_vars)
        update_ops = sorted(
            o.name
            for o in g.get_operations()
            if o.name.split("/")[-1].startswith(("ResourceApply", "ResourceSparseApply"))
        )
        with tf.Session(graph=g) as sess:
            sess.run(tf.global_variables_initializer())
            fetched = tf.global_variables() if fetched is None else fetched
            history = []
            for feed in feeds:
                sess.run(train_op, feed)
                history.append(sess.run(fetched))
            state = {v.name: sess.run(v) for v in tf.global_variables()}
    return kinds, update_ops, history, state
