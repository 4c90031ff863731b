"""Environment variables in config values: "${NAME}", or "${NAME:-default}" as in a shell.

Shared by the Beam presets and the cluster settings, so that an endpoint is configured the same
way in both files and a preset works without any variable set when its default does.
"""

from __future__ import annotations

import os
import re

_VARIABLE = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}")


def expand_variables(text: str) -> str:
    """Replaces ${NAME} by the variable NAME, empty if unset, and ${NAME:-default} by NAME or default."""

    def value(match: re.Match) -> str:
        default = match.group(2)
        found = os.environ.get(match.group(1), "")
        return found if found or default is None else default

    return _VARIABLE.sub(value, text)
