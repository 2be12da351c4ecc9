"""Operator commands of `manage.py`, one module per area.

Each module has `register(add)`: `add(name, handler)` declares a sub-command whose help text is
the handler's docstring and returns its argparse parser for options. `manage.py` lists the
modules in `COMMAND_MODULES`.
"""
