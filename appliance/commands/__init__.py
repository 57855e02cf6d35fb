"""One module per ``appliance`` sub-command: ``add_parser(sub, common)`` registers it and sets
``func`` to a function taking the parsed arguments and returning the exit code."""
