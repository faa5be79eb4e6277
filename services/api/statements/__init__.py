"""Signed settlement statements: issuing (worker and CLI), restating, serving and verifying them."""
