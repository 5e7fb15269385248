"""The base of every message model, and its orjson wire format."""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict

M = TypeVar("M", bound="Message")


class Message(BaseModel):
    """A frozen message: once published it is a fact, so nothing may change it in place."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def to_bytes(self) -> bytes:
        return dumps(self.model_dump(mode="json", exclude_none=False))

    @classmethod
    def from_bytes(cls: type[M], data: bytes | str) -> M:
        return cls.model_validate(loads(data))


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def loads(data: bytes | str) -> Any:
    return orjson.loads(data)
