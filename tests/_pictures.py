"""Test pictures come from the package's own sample generator (one copy of the edit rules)."""

from stopncii_tools.media.samples import EDITS, write_edits, write_photos

__all__ = ["EDITS", "write_edits", "write_photos"]
