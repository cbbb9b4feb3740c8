"""Writing a user's file the way core writes its own: a temp file, then a rename, so a crash
never leaves half a config or half a report behind."""

from __future__ import annotations

from core.io import atomic_write, atomic_write_text

__all__ = ["atomic_write", "atomic_write_text"]
