"""ivigwatch: remote monitoring of home IVIG infusions."""
