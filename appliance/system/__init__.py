"""Running as an appliance: systemd notification and watchdog, configuration files, devices,
the `appliance doctor` checks, SIGHUP reload and debug recordings."""
