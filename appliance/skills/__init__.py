"""Household skills: timers, alarms, volume, stop, repeat, and the user's own commands.

``appliance.skills.service.install_skills(pipeline, settings)`` registers them all; this package
``__init__`` stays empty so ``appliance.settings`` can import the settings module alone.
"""
