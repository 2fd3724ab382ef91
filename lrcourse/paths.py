"""Where the course reads and writes files.

Jupyter runs a notebook in its own folder, papermill in the caller's and nbval in the
notebook's; so relative paths are resolved here, against the repository root when the package
runs from a checkout, and against the current folder otherwise (a pip install on Colab).
"""

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


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
    new one, never half of it: write a temporary file beside it, then rename it into place.
    A process killed while writing leaves at most a hidden ``.<name>.tmp-<pid>`` file."""
    path = resolve(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    if isinstance(content, str):
        temporary.write_text(content)
    else:
        temporary.write_bytes(content)
    os.replace(temporary, path)
    return path
