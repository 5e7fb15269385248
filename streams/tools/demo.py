"""`storywire demo`: the whole pipeline in one command, on topics of its own under a fresh prefix (the worker's
log is named after it). The topics stay on the broker afterwards, for `storywire stories` with that prefix."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from streams.settings import Settings
from streams.tools.harness import RunFailed, run_once

# The bundled seed articles: beside the package in a checkout or an editable install, else in the
# current directory (a `pip install .` from a checkout, run from its root).
_BESIDE_PACKAGE = Path(__file__).resolve().parents[2] / "seeds"
SEEDS = _BESIDE_PACKAGE if _BESIDE_PACKAGE.is_dir() else Path.cwd() / "seeds"


async def run_demo(
    base: Settings,
    paths: list[Path],
    progress,
    timeout: float = 180.0,
    while_up: Callable[[dict, Settings], Awaitable[None]] | None = None,
) -> dict:
    """`storywire demo`: the stories, duplicates and dead letters of one run over the paths; `while_up` runs
    with the broker and worker still up (`demo --web`)."""
    if not paths and not SEEDS.is_dir():
        raise RunFailed("no seed articles found: give the demo PATHs to replay, or run it from a storywire checkout")
    state, _, _ = await run_once(base, paths or [SEEDS], progress, timeout, "demo", while_up)
    return state
