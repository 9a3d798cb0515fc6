"""Prometheus metrics (prometheus_client, default registry): the instruments each process updates,
one module per role, and who may read them (`scrape_access`).

Labels name kinds of things (event type, severity, condition, stage, route template, outcome), never
a patient, session, alert or credential id: a label value per patient would leak who is monitored
and make every series unbounded.
"""
