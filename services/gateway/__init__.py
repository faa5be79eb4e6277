"""The SCADA gateway: OPC UA and Modbus sources, a store-and-forward disk buffer, delivery to ingest."""
