"""Pure Pydantic contracts of the wire format and rule data (no I/O)."""
