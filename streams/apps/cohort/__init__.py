"""The cohort measure of alarm burden and sensitivity: simulated home IVIG infusions through the rules."""
