"""Shared fixtures of the pipeline tests."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from types import ModuleType

import pytest


class ReadCounter:
    """Stands for a compiled pattern and counts the characters its searches read (to the match found, else to the
    end): work the regex engine does out of sight, which a test can bound to show it linear."""

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern, self.read = pattern, 0

    def finditer(self, string: str, pos: int = 0, endpos: int = sys.maxsize):
        self.read += max(0, min(endpos, len(string)) - pos)
        return self.pattern.finditer(string, pos, endpos)

    def search(self, string: str, pos: int = 0, endpos: int = sys.maxsize):
        found = self.pattern.search(string, pos, endpos)
        self.read += max(0, (found.end() if found else min(endpos, len(string))) - pos)
        return found


@pytest.fixture
def count_reads(monkeypatch: pytest.MonkeyPatch) -> Callable[[ModuleType, str], ReadCounter]:
    """Replaces a module's compiled pattern, for the test, with a ReadCounter of it."""

    def replace(module: ModuleType, name: str) -> ReadCounter:
        counter = ReadCounter(getattr(module, name))
        monkeypatch.setattr(module, name, counter)
        return counter

    return replace
