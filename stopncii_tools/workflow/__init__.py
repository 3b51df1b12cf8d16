"""The steps a person or a caseworker takes (protect, scan, takedown, send, track, batch) as plain functions.

Each step is one module; import the functions from it (``from stopncii_tools.workflow.scan import
scan_sources``). The CLI is the only caller inside the package.
"""

__all__ = ["batch", "demo", "exports", "outbox", "protect", "scan", "takedown", "tracking"]
