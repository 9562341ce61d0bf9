"""Where a hibernated server's objects live in Swift, and how their names are made.

One server is three things in the owner project's account: its manifest
(``<prefix><name>/manifest.json``), its disk as a Static Large Object (``<prefix><name>/disk``)
in the *data container*, and the disk's segments in the *segment container*
(``<prefix><name>/disk/<run tag>/<00000001>``). Keeping segments in their own container keeps
listings of the data container to one manifest and one disk per server, which is what
``opsflow hibernated list`` reads; the run tag in segment names means a retried upload writes
new segments instead of overwriting the ones a verified copy still points at.
"""

from __future__ import annotations

import dataclasses
import re

from opsflow.errors import InvalidInput

__all__ = ["DEFAULT", "Layout"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")


@dataclasses.dataclass(frozen=True)
class Layout:
    """Container names and object-name prefix; operators choose them per run (flow inputs)."""

    #: Container of manifests and disk objects.
    container: str = "opsflow-hibernate"
    #: Container of disk segments; defaults to ``<container>_segments`` (swiftclient's convention).
    segment_container: str = ""
    #: Prefix before every object name (a pseudo-folder such as ``team-a/``).
    prefix: str = ""

    def __post_init__(self) -> None:
        if not self.segment_container:
            object.__setattr__(self, "segment_container", f"{self.container}_segments")
        for label, value in (("container", self.container), ("segment container", self.segment_container)):
            if not _NAME.match(value):
                raise InvalidInput(f"{label} {value!r}: use letters, digits, '.', '_' and '-' (at most 200)")
        if self.prefix.startswith("/") or "//" in self.prefix:
            raise InvalidInput(f"object prefix {self.prefix!r}: no leading '/' and no empty path parts")

    def check_name(self, name: str) -> str:
        """``name`` if it can name a hibernated server (a server name, as Nova allows), else InvalidInput."""
        if not name or "/" in name or len(name) > 255:
            raise InvalidInput(f"hibernation name {name!r}: 1 to 255 characters and no '/'")
        return name

    def manifest(self, name: str) -> str:
        """Object name of the manifest of hibernated server ``name``."""
        return f"{self.prefix}{self.check_name(name)}/manifest.json"

    def disk(self, name: str) -> str:
        """Object name of the disk (the SLO manifest) of ``name``."""
        return f"{self.prefix}{self.check_name(name)}/disk"

    def segment_prefix(self, name: str, attempt_key: str) -> str:
        """Prefix of the segments written by one upload attempt (``attempt_key`` names the run and task)."""
        return f"{self.disk(name)}/{attempt_key}/"

    def name_of_manifest(self, object_name: str) -> str | None:
        """The hibernation name a manifest object belongs to, or None for any other object."""
        if not object_name.startswith(self.prefix) or not object_name.endswith("/manifest.json"):
            return None
        middle = object_name[len(self.prefix):-len("/manifest.json")]
        return middle if middle and "/" not in middle else None


#: The layout used when a run names none.
DEFAULT = Layout()
