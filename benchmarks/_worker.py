"""Worker subprocess: ``python -m benchmarks._worker FRAMEWORK``, driven over stdin and stdout.

Each request is one JSON line on stdin and gets one JSON line back on stdout:

- ``{"measure": job}``: ``job`` is ``{"module", "case", "settings"}`` (``module`` a dotted
  name); replies with ``module.measure_case(FRAMEWORK, case, settings)``;
- ``{"prepare": job}``: builds, initialises and warms up the case with
  ``module.prepare_case(FRAMEWORK, case, settings)`` (a ``common.Prepared``); replies with its
  metrics so far and the number of steps in one timed block;
- ``{"block": kind}``: runs one timed block of the prepared case (``"fetching"``: one whose
  every step waits for its loss); replies ``{"seconds": ...}``;
- ``{"finish": true}``: replies with the prepared case's final metrics and drops it.

A failure replies ``{"error": ...}`` and the worker waits for the next request. Between
requests it blocks on reading stdin, so a worker waiting for its turn takes no CPU time.
"""

import importlib
import json
import os
import sys

from benchmarks.common import describe


def _module(job):
    return importlib.import_module(job["module"])


def main(argv):
    (framework,) = argv
    replies = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # anything a library prints goes to stderr, never into the replies
    prepared = None
    for line in sys.stdin:
        request = json.loads(line)
        try:
            if "measure" in request:
                job = request["measure"]
                reply = _module(job).measure_case(framework, job["case"], job["settings"])
            elif "prepare" in request:
                job = request["prepare"]
                prepared = None  # let a previous case's memory go first
                prepared = _module(job).prepare_case(framework, job["case"], job["settings"])
                reply = {"metrics": prepared.metrics, "steps": prepared.steps}
                if prepared.fetching is not None:
                    reply["fetching_steps"] = prepared.fetching[0]
            elif "block" in request:
                fetching = request["block"] == "fetching"
                reply = {"seconds": (prepared.fetching[1] if fetching else prepared.block)()}
            elif "finish" in request:
                reply, prepared = prepared.finish(), None
            else:
                reply = {"error": f"unknown request {sorted(request)}"}
        except Exception as exc:
            reply = {"error": describe(exc)}
        replies.write(json.dumps(reply) + "\n")
        replies.flush()


if __name__ == "__main__":
    main(sys.argv[1:])
