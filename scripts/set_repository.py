"""Move the course to another GitHub repository: ``python scripts/set_repository.py https://github.com/OWNER/NAME``.

Where the course lives is one setting, ``Repository`` under ``[project.urls]`` in pyproject.toml.
Colab starts with nothing installed, so every lesson's and assignment's setup cell and every
"Open in Colab" badge has to spell the address out; this script writes the setting into all of
them (pyproject.toml, README.md, notebooks/, assignments/), and tests/test_repository.py checks
that they agree with it. The site (docs/conf.py) reads the setting itself.
"""

import argparse
import re
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GITHUB = re.compile(r"https://github\.com/([\w.-]+/[\w.-]+)(?![\w.-]|/(?:issues|pull)/)")  # a repository, not an issue cited


def current(root=REPO):
    """The ``Repository`` address in ``root``'s pyproject.toml."""
    with open(root / "pyproject.toml", "rb") as file:
        return tomllib.load(file)["project"]["urls"]["Repository"]


def files_that_spell_it(root=REPO):
    return [root / "pyproject.toml", root / "README.md",
            *sorted((root / "notebooks").glob("*.ipynb")), *sorted((root / "assignments").glob("*.ipynb"))]


def set_repository(url, root=REPO):
    """Writes ``url`` wherever the current address (or its Colab badge path) is spelled out;
    returns the files changed."""
    if not GITHUB.fullmatch(url) or url.endswith(".git"):
        raise ValueError(f"the repository must be a GitHub address like https://github.com/OWNER/NAME "
                         f"(Colab opens notebooks from GitHub; no .git at the end); got {url!r}")
    old = current(root)
    old_path, new_path = GITHUB.fullmatch(old)[1], GITHUB.fullmatch(url)[1]
    address = re.compile(re.escape(old) + r"(?![\w.-])")  # not the start of a longer name, like ...-data
    changed = []
    for path in files_that_spell_it(root):
        text = path.read_text()
        new = address.sub(url, text).replace(f"/github/{old_path}/", f"/github/{new_path}/")
        if new != text:
            path.write_text(new)
            changed.append(path)
    return changed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="the repository's address, https://github.com/OWNER/NAME")
    args = parser.parse_args(argv)
    try:
        changed = set_repository(args.url.rstrip("/").removesuffix(".git"))
    except ValueError as error:
        sys.exit(f"set_repository: {error}")
    print(f"{len(changed)} files now name {args.url}: " + ", ".join(str(p.relative_to(REPO)) for p in changed))


if __name__ == "__main__":
    main()
