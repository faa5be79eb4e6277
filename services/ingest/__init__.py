"""The ingest service: the SCADA gateways' durable, exactly-once write path."""
