"""``python -m waport`` runs the ``waport`` command (installed by the gateway adapter).

The command is found through its console-script entry point, so the core never
imports an adapter.
"""

from __future__ import annotations

import sys
from importlib.metadata import entry_points


def main() -> int:
    for script in entry_points(group="console_scripts", name="waport"):
        command = script.load()
        return int(command() or 0)
    print("waport: the waport command is not installed (pip install waport)", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
