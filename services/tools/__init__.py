"""Operator tools run from the CLI: historian import and export."""
