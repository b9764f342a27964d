"""``tf.app``: ``run(main)`` parses the command line into ``tf.flags.FLAGS`` (leaving arguments
no flag defines) and calls ``main(argv)``, then exits with its return value, as TF 1.x does."""

import sys as _sys

from . import flags


def _parse_flags_tolerate_undef(argv):
    return flags.FLAGS(_sys.argv if argv is None else argv, known_only=True)


def run(main=None, argv=None):
    """Runs ``main`` (default: ``__main__.main``) with the program's arguments."""
    from absl import app as _absl_app

    main = main or _sys.modules["__main__"].main
    _absl_app.run(main=main, argv=argv, flags_parser=_parse_flags_tolerate_undef)
