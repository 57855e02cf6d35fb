"""What several commands share: settings from ``--config``."""

from __future__ import annotations

import argparse
from typing import Any

from appliance.settings import Settings, load_settings, user_config_path


def settings_from(args: argparse.Namespace, overrides: dict[str, Any] | None = None) -> Settings:
    return load_settings(user_config_path(args.config), overrides)
