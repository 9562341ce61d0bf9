"""Find the definition a ``flow:`` reference names: next to the file, among the built-ins, or stored."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Protocol

from opsflow.flows.yamldoc import read_text

__all__ = ["BUILTIN_DIR", "FileResolver", "Resolver", "StoredResolver"]

#: Where opsflow's own definitions live.
BUILTIN_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "definitions")


class Resolver(Protocol):
    """Turns a ``flow:`` reference into ``(source, text)``; raises KeyError when there is none."""

    def __call__(self, reference: str, parent_source: str) -> tuple[str, str]:
        """Find ``reference`` as seen from the definition at ``parent_source``."""


class FileResolver:
    """Looks beside the referring file first, then in the built-in definitions."""

    def __init__(self, extra_dirs: tuple[str, ...] = ()) -> None:
        self._extra_dirs = extra_dirs

    def candidates(self, reference: str, parent_source: str) -> list[str]:
        """Paths tried for ``reference``, in order."""
        name = reference if reference.endswith((".yaml", ".yml")) else reference + ".yaml"
        dirs = []
        if os.path.isfile(parent_source):
            dirs.append(os.path.dirname(parent_source) or os.curdir)
        dirs.extend(self._extra_dirs)
        dirs.append(BUILTIN_DIR)
        return [os.path.normpath(os.path.join(d, name)) for d in dirs]

    def __call__(self, reference: str, parent_source: str) -> tuple[str, str]:
        """Read the first candidate that exists."""
        for path in self.candidates(reference, parent_source):
            if os.path.isfile(path):
                return path, read_text(path)
        raise KeyError(reference)


class StoredResolver:
    """Resolves from texts stored with a run, so a conductor needs no local copy of user files.

    With ``links`` (referring identity -> reference -> identity) the texts are keyed by identity
    and a reference resolves as seen from the definition that makes it: two sub-flows in different
    directories may each use their own ``flow: leaf``. Without, texts are keyed by the bare
    reference (runs stored before identities).
    """

    def __init__(self, texts: Mapping[str, tuple[str, str]],
                 links: Mapping[str, Mapping[str, str]] | None = None) -> None:
        self._texts = texts
        self._links = links
        self._by_source = {source: key for key, (source, _text) in texts.items()}

    def __call__(self, reference: str, parent_source: str) -> tuple[str, str]:
        """The stored ``(source, text)`` for ``reference`` made by the definition at ``parent_source``."""
        if self._links is None:
            return self._texts[reference]
        return self._texts[self._links[self._by_source[parent_source]][reference]]
