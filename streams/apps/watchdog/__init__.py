"""The pipeline watchdog: raises `pipeline_stalled` when the rule worker stops producing alerts.

`policy` is the pure decision logic (samples in, alert messages out), `lag` keeps the per-partition
backlog arithmetic, `probes` samples Kafka offsets and the workers' /healthz, `journal` reads back the
watchdog's own messages and nurse actions, and `service` runs the loop and serves /healthz.
"""
