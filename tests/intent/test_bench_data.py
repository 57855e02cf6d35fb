"""The benchmark sets are package data: an installed wheel (no tests/ folder) has them."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

from hatchling.builders.wheel import WheelBuilder

from appliance.intent.bench import DATA_DIR, load_cases

REPO = Path(__file__).resolve().parents[2]
SETS = ("intents.yaml", "audio_commands.yaml")

# Imports the package from the unpacked wheel only, in a folder that is not the source tree.
_COUNT_CASES = """
import json, sys
sys.path.insert(0, sys.argv[1])
import appliance
from appliance.intent.bench import DATA_DIR, load_cases
print(json.dumps({"package": appliance.__file__,
                  "counts": [len(load_cases(DATA_DIR / name)) for name in sys.argv[2:]]}))
"""


def test_the_sets_are_read_from_the_package() -> None:
    package = REPO / "appliance"
    for name in SETS:
        assert Path(str(DATA_DIR / name)) == package / "intent" / "bench_data" / name
    assert len(load_cases(DATA_DIR / "intents.yaml")) >= 200
    assert len(load_cases(DATA_DIR / "audio_commands.yaml")) >= 30


def test_an_installed_wheel_has_the_sets(tmp_path: Path) -> None:
    (wheel,) = WheelBuilder(str(REPO)).build(directory=str(tmp_path / "dist"),
                                             versions=["standard"])
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)  # what pip puts in site-packages for a pure-Python wheel
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    run = subprocess.run(
        [sys.executable, "-c", _COUNT_CASES, str(site), *SETS],
        cwd=elsewhere, capture_output=True, text=True, timeout=120, check=False,
    )
    assert run.returncode == 0, run.stderr
    found = json.loads(run.stdout)
    assert Path(found["package"]).is_relative_to(site)
    assert found["counts"] == [len(load_cases(DATA_DIR / name)) for name in SETS]
