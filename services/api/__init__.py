"""The api service: aggregates, energy, compliance and frequency quality over the 1-minute rollups."""
