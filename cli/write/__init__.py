"""Writing results: formats, write-through and atomic replacement, keyed records."""
