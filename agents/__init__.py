"""Faust agents: thin loops over the pure rule functions in `agents.rules`."""
