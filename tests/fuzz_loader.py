"""Coverage-guided byte-level fuzzing of the loader with atheris, for long local sessions.

    pip install atheris
    mkdir -p /tmp/loader-corpus && python tests/fuzz_loader.py -max_total_time=600 /tmp/loader-corpus

The target is the one tests/test_fuzz.py drives with hypothesis in CI: any bytes either load or
raise PlannerError with exit code 3. Any other exception is a crash; atheris writes the input as
crash-<hash> -- copy it into tests/fuzz_regressions/ (as .yaml) so the suite replays it forever.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from planner.diagnostics import PlannerError
    from planner.load import load_bytes


def target(data: bytes) -> None:
    try:
        load_bytes(data, "fuzz.yaml")
    except PlannerError as error:
        if error.exit_code != 3 or not error.findings:
            raise AssertionError("a loader error must be a finding with exit code 3") from error


if __name__ == "__main__":
    atheris.Setup(sys.argv, target)
    atheris.Fuzz()
