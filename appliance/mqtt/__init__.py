"""MQTT: Home Assistant discovery, Hermes (Rhasspy/Snips) topics and our own simple topics.

Entry points: :func:`appliance.mqtt.service.run_mqtt` (the daemon runs it in its task group) and
:func:`appliance.mqtt.connection.check_broker` (``appliance doctor``). This package file stays
light: ``appliance.settings`` imports :mod:`appliance.mqtt.settings` at start-up.
"""
