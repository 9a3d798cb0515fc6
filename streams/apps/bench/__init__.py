"""`make bench`: in-process figures, stepped live load, targets (see `__main__`)."""
