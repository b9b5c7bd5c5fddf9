"""What a use case answers: the command's JSON (``to_dict``) and its text (``summary``),
one shape for every command and for the Python API, so that the two cannot drift."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


@dataclass
class Printed:
    """An answer built once: the JSON document and the text a command prints."""

    payload: dict
    text: str

    def to_dict(self) -> dict:
        return self.payload

    def summary(self) -> str:
        return self.text


class Answer:
    """A method's own result (``.value``; its fields reachable as attributes of this one)
    with the command's JSON and text, made on demand."""

    def __init__(self, value: Any, to_dict: Callable[[], dict], summary: Callable[[], str]):
        self.value, self._to_dict, self._summary = value, to_dict, summary

    def to_dict(self) -> dict:
        return self._to_dict()

    def summary(self) -> str:
        return self._summary()

    def __getattr__(self, name: str):
        if name.startswith("__") or name == "value":
            raise AttributeError(name)
        return getattr(self.value, name)

    def __repr__(self) -> str:
        return self.summary()
