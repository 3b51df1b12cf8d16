"""The steps a person or a caseworker takes (protect, scan, takedown, send, track, batch) as plain functions."""
