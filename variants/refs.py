"""References to versions (contract): ``NAME`` (latest), ``NAME@7`` (version), ``NAME@label``.

NAME is any agent name (spaces, capitals, any script: quote it in the shell). The selector starts
at the last ``@``, since labels never contain one; a name that itself holds ``@`` is therefore
written with a selector, ``a@b@latest``.

They live beside the agent definition (not in registry/) so that variant specs can name a base
without variants/ depending on the registry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.errors import AgentRegistryError
from variants.validate import name_problem

# The first character is a letter or digit: "-1" would read as an option on the command line.
LABEL_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


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
    name, sep, selector = text.rpartition("@")
    if not sep:
        name, selector = selector, ""
    if not name and default_name:
        name = default_name
    if not name or name_problem(name) is not None:
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
