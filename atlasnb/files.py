"""Writing run files safely: atomically, readable by the group, with clear disk errors.

Described in {ref}`sec-wae-gan`. A file is written to a temporary name beside its
place and renamed into it, so an interruption or a full disk leaves the previous
version whole. Files get at least mode 0o640 and folders 0o750 (the umask may
widen them, never narrow the group's read access), so a runs folder can be shared
by a group.
"""

from __future__ import annotations

import errno
import io
import os
import shutil
import tempfile
from pathlib import Path

import torch

#: The least access run files and folders get: owner read/write, group read.
FILE_MODE = 0o640
FOLDER_MODE = 0o750

_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_DENIED = {errno.EACCES, errno.EPERM, errno.EROFS}


class RunFolderError(OSError):
    """A run folder cannot be written: read-only, not ours, or on a full disk."""

    def __str__(self) -> str:
        return self.strerror


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def file_mode() -> int:
    return (0o666 & ~_umask()) | FILE_MODE


def folder_mode() -> int:
    return (0o777 & ~_umask()) | FOLDER_MODE


def _mount_point(path: Path) -> Path:
    path = Path(os.path.abspath(path))
    while not path.exists():
        path = path.parent
    while not os.path.ismount(path):
        path = path.parent
    return path


def folder_error(folder: Path, error: OSError, action: str) -> RunFolderError:
    """One clear error for a failed write in ``folder``, keeping the errno."""
    if error.errno in _FULL:
        try:
            free = f"{shutil.disk_usage(folder).free / 2**20:.1f} MiB free"
        except OSError:
            free = "free space unknown"
        message = (f"the disk mounted at {_mount_point(folder)} is full ({free}) while "
                   f"{action} in {folder}; the last good checkpoint there is kept: free "
                   "some space and run again to resume from it")
    elif error.errno in _DENIED:
        message = (f"the run folder {folder} cannot be written ({error.strerror}) while "
                   f"{action}; make it writable, or point ATLASNB_RUNS (or path=) at a "
                   "folder you can write")
    else:
        message = f"could not write the run folder {folder} while {action}: {error}"
    return RunFolderError(error.errno, message)


def make_folder(folder: Path) -> None:
    """Create ``folder`` and its missing parents with :data:`FOLDER_MODE`."""
    folder = Path(folder)
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    try:
        for path in reversed(missing):
            try:
                path.mkdir()
            except FileExistsError:  # made meanwhile by another process
                continue
            os.chmod(path, folder_mode())
    except OSError as error:
        raise folder_error(folder, error, "creating it") from error


def check_writable(folder: Path) -> None:
    """Refuse a folder in which no file can be created (before any work starts)."""
    try:
        handle, probe = tempfile.mkstemp(dir=folder, prefix=".write-test-")
        os.close(handle)
        os.unlink(probe)
    except OSError as error:
        raise folder_error(Path(folder), error, "checking it before training") from error


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, then rename it into place."""
    path = Path(path)
    make_folder(path.parent)
    temporary = None
    try:
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        os.fchmod(handle, file_mode())  # mkstemp makes 0o600 files
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException as error:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
        if isinstance(error, OSError) and not isinstance(error, RunFolderError):
            raise folder_error(path.parent, error, f"writing {path.name}") from error
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def atomic_torch_save(path: Path, state: dict) -> None:
    """``torch.save`` through :func:`atomic_write_bytes` (so disk errors stay OSErrors)."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def append_line(path: Path, line: str) -> None:
    """Append one line to a log file, creating it group-readable."""
    path = Path(path)
    try:
        created = not path.exists()
        with open(path, "a") as file:
            file.write(line + "\n")
        if created:
            os.chmod(path, file_mode())
    except OSError as error:
        raise folder_error(path.parent, error, f"writing {path.name}") from error
