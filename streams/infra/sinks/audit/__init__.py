"""The audit log's file: who saw which patient's data, one JSON line per view (`audit_file`)."""
