"""Worker subprocess: ``python -m benchmarks._worker FRAMEWORK JOBS_JSON OUT_JSON``.

``JOBS_JSON`` is a list of ``{"module", "case", "settings"}`` (``module`` a dotted name). Each
job is measured for one framework; the list of their metrics (or ``{"error": ...}``) is written
to ``OUT_JSON`` after every job, so a crash later on keeps the jobs already measured.
"""

import importlib
import json
import os
import sys

from benchmarks.common import describe


def main(argv):
    framework, jobs, out_path = argv
    results = []
    for job in json.loads(jobs):
        try:
            module = importlib.import_module(job["module"])
            results.append(module.measure_case(framework, job["case"], job["settings"]))
        except Exception as exc:
            results.append({"error": describe(exc)})
        tmp = out_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(results, f)
        os.replace(tmp, out_path)


if __name__ == "__main__":
    main(sys.argv[1:])
