"""LEDs and buttons over GPIO: the speaker shows what it is doing and obeys its buttons.

Entry points: :func:`run_hardware` (the daemon's task), :func:`bench_animator`
(``appliance bench``) and :func:`check_profile` (``appliance doctor``). The hardware libraries
(``pip install 'appliance[pi]'``) are imported only when a device is opened.
"""

from appliance.hardware.config import HardwareSettings
from appliance.hardware.profiles import check_profile, resolve
from appliance.hardware.runner import bench_animator, run_hardware

__all__ = ["HardwareSettings", "bench_animator", "check_profile", "resolve", "run_hardware"]
