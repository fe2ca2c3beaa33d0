"""References to versions (contract): ``NAME`` (latest), ``NAME@7`` (version), ``NAME@label``.

They live beside the agent definition (not in registry/) so that variant specs can name a base
without variants/ depending on the registry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.errors import AgentRegistryError

# The first character is a letter or digit: "-1" would read as an option on the command line.
LABEL_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class InvalidReference(AgentRegistryError):
    """A reference or label name that does not follow the syntax."""


@dataclass(frozen=True)
class Ref:
    name: str
    number: int | None = None  # NAME@7
    label: str | None = None  # NAME@production; neither set: the latest version

    def __str__(self) -> str:
        if self.number is not None:
            return f"{self.name}@{self.number}"
        return f"{self.name}@{self.label}" if self.label else self.name


def parse_ref(text: str, *, default_name: str | None = None) -> Ref:
    """Parse a reference; ``@3`` alone borrows ``default_name`` (as in ``diff NAME@1 @3``)."""
    text = text.strip()
    name, sep, selector = text.partition("@")
    if not name and default_name:
        name = default_name
    if not name or not _NAME_RE.match(name):
        raise InvalidReference(f"invalid reference {text!r}: expected NAME, NAME@N or NAME@LABEL")
    if not sep:
        return Ref(name)
    if selector.isdigit():
        number = int(selector)
        if number < 1:
            raise InvalidReference(f"invalid reference {text!r}: versions start at 1")
        return Ref(name, number=number)
    if selector == "latest":
        return Ref(name)
    check_label(selector, context=f"reference {text!r}")
    return Ref(name, label=selector)


def check_label(label: str, *, context: str = "label") -> str:
    if not LABEL_RE.match(label) or label.isdigit() or label == "latest":
        raise InvalidReference(
            f"invalid {context}: label {label!r} must match [a-z0-9][a-z0-9._-]*, not be a number"
            " and not be 'latest'"
        )
    return label
