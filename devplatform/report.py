"""The status record each component reports, and the table `status` prints."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Status:
    """One component: is it up, where, which version, where its log is."""

    component: str
    running: bool
    address: str
    version: str = "-"
    log: str = "-"
    # "started by liveline", "external" (answered before we started anything), or why not.
    note: str = ""
    # How to say running/not running: an image is "present"/"missing", not "running".
    states: tuple[str, str] = ("running", "stopped")

    def line(self) -> str:
        state = self.states[0] if self.running else self.states[1]
        note = f"  ({self.note})" if self.note else ""
        return (
            f"{self.component:<14} {state:<8} {self.address:<40} {self.version:<16} "
            f"{self.log}{note}"
        )


def ownership(answers: bool, ours: bool) -> str:
    """The note for a service: who started it, or why it does not answer."""
    if answers:
        return "started by liveline" if ours else "external"
    return "liveline started it but it does not answer" if ours else ""


def service(
    name: str, log: Path, *, address: str, version: str | None, answers: bool, ours: bool,
    absent: str = "",
) -> Status:  # fmt: skip
    """A service that `up` starts unless one answers already; `absent` says what is missing
    for one that is neither running nor answering (say, "not built yet")."""
    note = ownership(answers, ours) or absent
    return Status(name, answers, address, version or "-", str(log), note)


def table(statuses: list[Status]) -> str:
    header = f"{'COMPONENT':<14} {'STATE':<8} {'ADDRESS':<40} {'VERSION':<16} LOG"
    return "\n".join([header, *(s.line() for s in statuses)])
