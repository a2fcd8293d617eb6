"""Task suites and the sandboxed verifier."""
