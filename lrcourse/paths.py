"""Where the course reads and writes files.

Jupyter runs a notebook in its own folder, papermill in the caller's and nbval in the
notebook's; so relative paths are resolved here, against the repository root when the package
runs from a checkout, and against the current folder otherwise (a pip install on Colab).
"""

import contextlib
import os
import time
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
LOCK_NAME = ".lrcourse.lock"


def repo_root():
    """The checkout's top folder, or ``None`` when the package is installed elsewhere."""
    root = PACKAGE_DIR.parent
    return root if (root / "pyproject.toml").exists() and (root / "notebooks").is_dir() else None


def resolve(path):
    """An absolute path for ``path``: relative paths start at the repository root (or cwd)."""
    path = Path(path)
    return path if path.is_absolute() else (repo_root() or Path.cwd()) / path


def display(path):
    """``path`` as a notebook should print it: relative to the repository root when inside it."""
    path = resolve(path)
    root = repo_root() or Path.cwd()
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def write_atomically(path, content):
    """Write ``content`` (text or bytes) to ``path`` so that readers see the old file or the whole
    new one, never half of it: write a temporary file beside it, then rename it into place. A
    write that fails (a full disk) removes its temporary file; a process killed while writing
    leaves at most a hidden ``.<name>.tmp-<pid>`` file."""
    path = resolve(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        if isinstance(content, str):
            temporary.write_text(content, encoding="utf-8")
        else:
            temporary.write_bytes(content)
        os.replace(temporary, path)
    except BaseException:  # a full disk, an interrupt: the old file stays, and no half-written one is left
        temporary.unlink(missing_ok=True)
        raise
    return path


class FolderInUse(ValueError):
    """Another process holds an output folder's lock (:func:`locked`)."""


def writable_folder(path, option="--output"):
    """``path`` resolved, created if missing, and checked to be a folder this process can write
    into; otherwise a one-line ``ValueError`` that names ``option``, the path and the fix."""
    folder = resolve(path)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{option} {display(folder)} is a file, not a folder: give a folder (it is created if missing)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ValueError(f"{option} {display(folder)} cannot be created ({error.strerror}): give a folder you can "
                         f"write to") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"{option} {display(folder)} is not writable: give a folder you can write to")
    return folder


@contextlib.contextmanager
def locked(path, option="--output"):
    """Hold the output folder ``path`` (checked by :func:`writable_folder`) for one run: a second
    run into it, from this process or another, is refused with :class:`FolderInUse`, naming the
    holder, instead of deleting and overwriting the first one's records. The lock is an
    operating-system lock on ``<folder>/.lrcourse.lock``: it goes when its holder ends, however it
    ends, so no stale lock is ever left behind."""
    import fcntl  # POSIX only: the lock is for the command line, and importing the package elsewhere stays possible

    folder = writable_folder(path, option)
    handle = open(folder / LOCK_NAME, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise FolderInUse(f"{option} {display(folder)} is in use by {holder}: wait for it to finish, or give another "
                          f"{option}") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"lrcourse pid {os.getpid()} (since {time.strftime('%Y-%m-%d %H:%M:%S')})")
    handle.flush()
    try:
        yield folder
    finally:
        handle.close()
