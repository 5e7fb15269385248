"""The C kernels built with AddressSanitizer and UndefinedBehaviorSanitizer, and the pipeline's tests run on that
build. A read past a block's end, a reference let go of too early or an overflow gives no error in the build pip
makes: it shows as a wrong score now and then, or as a crash weeks into a worker's run. Built here with the
machine's gcc, as pip builds the kernels; skipped where gcc or its sanitizers' runtimes are missing."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SANITIZERS = "address,undefined"
# The tests that call the kernels, directly or through preparing and clustering: about 40 seconds under the
# sanitizers on the two-core development machine, the build included, where they take 12 in the usual build.
SANITIZED_TESTS = ["tests/streams/pipeline", "tests/schemas"]


def runtime(name: str) -> str | None:
    """Where gcc's runtime library of a sanitizer is, or None (gcc prints the bare name of a file it lacks)."""
    found = subprocess.run(["gcc", f"-print-file-name={name}"], capture_output=True, text=True).stdout.strip()
    return found if os.path.isabs(found) and os.path.exists(found) else None


def sanitized_copy(target: Path) -> Path:
    """The project's packages copied under `target`, with the kernels built in them with the sanitizers."""
    for package in ("streams", "schemas"):
        shutil.copytree(ROOT / package, target / package, ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    kernels = target / "streams" / "pipeline"
    command = [
        "gcc", *{f"-I{sysconfig.get_paths()[name]}" for name in ("include", "platinclude")}, "-O1", "-g", "-fno-omit-frame-pointer",
        f"-fsanitize={SANITIZERS}", "-fno-sanitize-recover=undefined", "-ffp-contract=off", "-fPIC", "-shared",
        str(kernels / "_kernels.c"), "-o", str(kernels / f"_kernels{sysconfig.get_config_var('EXT_SUFFIX')}"), "-lm",
    ]
    built = subprocess.run(command, capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    return kernels


def test_the_kernels_pass_the_pipelines_tests_under_the_address_and_undefined_behaviour_sanitizers(tmp_path):
    runtimes = [runtime("libasan.so"), runtime("libubsan.so")] if shutil.which("gcc") else [None]
    if None in runtimes:
        pytest.skip("no gcc with the address and undefined behaviour sanitizers' runtimes on this machine")
    kernels = sanitized_copy(tmp_path)
    env = {
        **os.environ,
        "PYTHONPATH": str(tmp_path),  # the copy before the installed project
        "LD_PRELOAD": ":".join(runtimes),
        "PYTHONMALLOC": "malloc",  # Python's objects in memory the sanitizer watches, not in its own arenas
        "ASAN_OPTIONS": "detect_leaks=0:abort_on_error=1",  # no leak checks: CPython keeps what it allocated at exit
        "UBSAN_OPTIONS": "print_stacktrace=1",
    }
    # The kernels imported before pytest starts (and from the copy: Python puts the directory it runs in first, before
    # PYTHONPATH), so that every test reads the sanitized build, whatever pytest adds to the path.
    code = "import sys, pytest, streams.pipeline._kernels as k; print(k.__file__, flush=True); sys.exit(pytest.main(sys.argv[1:]))"
    run = subprocess.run(
        # Not captured by pytest (-s): a sanitizer's report goes to stderr, and an abort would lose what pytest held.
        [sys.executable, "-c", code, "-q", "-s", "-x", "-p", "no:cacheprovider", f"--rootdir={ROOT}", "-c", str(ROOT / "pyproject.toml"),
         f"--ignore={Path(__file__)}", *(str(ROOT / tests) for tests in SANITIZED_TESTS)],
        cwd=tmp_path, env=env, capture_output=True, text=True,
    )
    found = re.search(r"ERROR: AddressSanitizer|runtime error:", run.stderr)  # how the sanitizers' reports open
    assert found is None, run.stderr[max(0, found.start() - 200) :][:6000]
    report = run.stdout[-4000:] + run.stderr[-4000:]
    assert run.returncode == 0, report
    assert Path(run.stdout.splitlines()[0]).parent == kernels, report  # the sanitized build, not the installed one
    assert " passed" in run.stdout, report
