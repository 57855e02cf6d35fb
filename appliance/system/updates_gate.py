"""``python -m appliance.system.updates_gate``: may the apt services look for and install updates?

The image's ``apt-daily.service`` and ``apt-daily-upgrade.service`` run this as their
``ExecCondition=`` (through ``/usr/lib/appliance-image/updates-allowed``) before every run, so
``sudo appliance config set updates.security false`` takes effect at the next daily run, with no
reload or restart. Exit 0: run them; exit 10 (:data:`OFF`): the setting is off, and the script
turns that into systemd's "skip" (logged as a condition, not a failure). Any other outcome, a
crash included, runs them; so does a configuration that cannot be read (the default is on): a
broken file must not silently stop security fixes.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from appliance.errors import ConfigError
from appliance.settings import load_settings, user_config_path

RUN = 0
OFF = 10  # not 1 or 2: a Python traceback and an argparse error exit with those


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m appliance.system.updates_gate",
        description="Exit 0 if [updates] security is on (apt may update), 10 if it is off.",
    )
    parser.add_argument("--config", type=Path, help="settings file (default: "
                        "/etc/appliance/config.toml when it exists)")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(user_config_path(args.config))
    except ConfigError as err:
        fix = f": {err.fix}" if err.fix else ""
        print(f"appliance: {err.message}; security updates stay on (the default) until it is "
              f"fixed{fix}", file=sys.stderr)
        return RUN
    if settings.updates.security:
        return RUN
    print("appliance: security updates are off (updates.security = false), skipped; "
          "`sudo appliance config set updates.security true` turns them back on",
          file=sys.stderr)
    return OFF


if __name__ == "__main__":
    sys.exit(main())
