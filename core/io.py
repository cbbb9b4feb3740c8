"""Atomic writes: a file on disk is always either the old version or the new one.

A search runs for days; a kill, a full disk or a read-only mount at the wrong
moment must never leave a half-written checkpoint, summary or architecture file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from core.errors import PresnetError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: What ``open()`` would give a new file; ``mkstemp`` makes 0600, which other users (a watcher on a
#: shared box, Ray workers under another uid) could not read.
FILE_MODE = 0o666 & ~_umask()


def atomic_write(path: Path, write: Callable[[object], None], binary: bool = True) -> None:
    """Write through ``write(fileobj)`` into a temp file beside ``path``, fsync, then rename."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as err:
        raise PresnetError(
            f"cannot write here: {err.strerror}", where=str(path.parent), hint="check free space and write permission"
        ) from None
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb" if binary else "w") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as err:
        _remove_quietly(tmp)
        raise write_failed(path, err, "the previous file is intact") from None
    except BaseException:
        _remove_quietly(tmp)
        raise


def free_space(path: Path) -> str:
    """Free space on ``path``'s filesystem, for an error line (``"1.2 GiB free"``)."""
    import shutil

    for p in (Path(path), *Path(path).parents):
        try:
            free = float(shutil.disk_usage(p).free)
        except OSError:
            continue
        for unit in ("B", "KiB", "MiB", "GiB"):
            if free < 1024 or unit == "GiB":
                return f"{free:.1f} {unit} free" if unit != "B" else f"{free:.0f} B free"
            free /= 1024
    return "free space unknown"


def write_failed(path: Path, err: OSError, kept: str) -> PresnetError:
    """The one line a failed write ends a run with: what failed, where, the free space, what survives.

    A full disk mid-search must not read as a bug (a traceback) nor lose the last checkpoint."""
    return PresnetError(
        f"cannot write: {err.strerror or err} ({free_space(Path(path).parent)})",
        where=str(path),
        hint=f"{kept}; make room (or check the disk), then resume the run",
    )


def _remove_quietly(tmp: str) -> None:
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        return


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda f: f.write(text), binary=False)  # type: ignore[attr-defined]


_BOMS = (
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe", "UTF-16"),
    (b"\xfe\xff", "UTF-16"),
)


def read_user_text(path: Path, what: str) -> str:
    """A text file the user wrote (a config, an architecture file), as UTF-8, or one clear error.

    Editors on Windows (PowerShell's ``>``, Notepad's "Unicode") write UTF-16 with a byte-order
    mark; read as UTF-8 it is a decode error deep in a parser.  Said here instead, with the fix.
    """
    path = Path(path)
    data = path.read_bytes()
    for bom, name in _BOMS:
        if data.startswith(bom):
            raise PresnetError(
                f"the {what} is {name} text (it starts with a {name} byte-order mark); presnet reads UTF-8",
                where=str(path),
                hint="save it as UTF-8 (PowerShell: `Set-Content -Encoding utf8`, or Out-File -Encoding utf8)",
            )
    try:
        return data.decode("utf-8-sig")  # a UTF-8 byte-order mark is harmless: dropped
    except UnicodeDecodeError as err:
        raise PresnetError(
            f"the {what} is not UTF-8 text (byte {err.start} cannot be decoded)",
            where=str(path),
            hint="save it as UTF-8",
        ) from None
