"""The alerts service: commitments, rule evaluation, alert lifecycle and signed webhook delivery."""
