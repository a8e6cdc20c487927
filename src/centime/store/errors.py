"""Errors a store raises that its callers handle (a leaf module: it imports nothing)."""


class TransientStoreError(RuntimeError):
    """The transaction lost a race with another writer (a unique-key collision, a deadlock, a
    serialization failure) and was rolled back whole; running the group again is safe."""
