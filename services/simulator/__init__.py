"""The plant simulator: a deterministic plant model served over OPC UA and Modbus TCP."""
