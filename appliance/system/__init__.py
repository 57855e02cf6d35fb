"""Running as an appliance: systemd notification and watchdog, configuration files, devices,
the `appliance doctor` checks, SIGHUP reload, debug recordings, and the boot units (applying the
first-boot file, setting up the HAT)."""
