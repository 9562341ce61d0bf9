"""What reclaim tells a server's owner: the notice and the final warning, with the keep link."""

from __future__ import annotations

import dataclasses
from typing import Any

from opsflow.notifiers import Message

__all__ = ["Notice"]

_STAGES = {
    "notice": "will be {action}d on {deadline} unless you keep it",
    "final": "will be {action}d on {deadline}: final warning",
}


@dataclasses.dataclass(frozen=True)
class Notice:
    """What one notification says."""

    server: str
    name: str
    project: str
    owner: str
    email: str
    #: ``notice`` or ``final``.
    stage: str
    reasons: tuple[str, ...]
    #: When the action happens (ISO, UTC).
    deadline: str
    #: ``hibernate`` or ``delete``.
    action: str
    #: The signed one-time keep link, "" when the policy has none.
    keep_url: str = ""
    #: The reclaim run.
    run_id: str = ""

    @property
    def subject(self) -> str:
        """The e-mail subject."""
        what = _STAGES.get(self.stage, "is being reclaimed").format(action=self.action, deadline=self.deadline)
        return f"Your server {self.name} ({self.project}) {what}"

    @property
    def body(self) -> str:
        """The e-mail text."""
        lines = [f"Hello {self.owner},", "",
                 f"your server {self.name} (id {self.server}) in project {self.project} was picked for reclaim:"]
        lines += [f"  - {reason}" for reason in self.reasons]
        lines += ["", f"It will be {self.action}d on {self.deadline}."]
        if self.action == "hibernate":
            lines.append("Hibernated servers are kept in object storage and can be restored (opsflow restore).")
        if self.keep_url:
            lines += ["", "To keep it, open this link (it works once):", f"  {self.keep_url}"]
        lines += ["", f"Or ask an operator: opsflow reclaim keep {self.server} --days N", "",
                  f"(reclaim run {self.run_id})"]
        return "\n".join(lines) + "\n"

    def to_json(self) -> dict[str, Any]:
        """The webhook's payload."""
        return {**dataclasses.asdict(self), "reasons": list(self.reasons), "subject": self.subject}

    def message(self) -> Message:
        """The notice as every notifier sends it."""
        return Message(self.owner, self.email, self.subject, self.body,
                       {"X-Opsflow-Server": self.server, "X-Opsflow-Stage": self.stage}, self.to_json())
