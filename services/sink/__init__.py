"""A local webhook sink for the demo: verifies Standard Webhooks signatures and prints one line per alert."""
