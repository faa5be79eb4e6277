"""Signed settlement statements: canonical form, signatures, the per-plant hash chain and the readings digest.

Pure (no database, web framework or clock): the api service's statements package does the I/O. The format is
documented in the README ("Signed statements") so that a partner can verify with any JOSE library.
"""
