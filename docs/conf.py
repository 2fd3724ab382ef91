"""Sphinx configuration of the course's website; scripts/build_site.py (``make site``) runs it.

The lesson pages are executed copies of the notebooks, so nothing is executed here; nothing is
fetched from the network either (no intersphinx). The Colab buttons open the stored lesson,
``notebooks/<lesson>.ipynb`` in the repository named in pyproject.toml.
"""

import tomllib
from pathlib import Path

import lrcourse

lrcourse.quiet_tensorflow()  # before autodoc imports the modules (and Keras): no C++ log on the terminal

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
REPOSITORY = PROJECT["urls"]["Repository"]
BRANCH = "main"

project = "lrcourse"
html_title = "Learning rates for deep networks, with Keras 3"
author = "the lrcourse authors"
copyright = "the lrcourse authors; MIT licence (the bundled MNIST subset: CC BY-SA 3.0)"
release = PROJECT["version"]

extensions = ["myst_nb", "sphinx.ext.autodoc", "sphinx.ext.napoleon"]
exclude_patterns = ["**/.ipynb_checkpoints"]

# The notebooks arrive executed (scripts/build_site.py); a stripped one would show no outputs.
nb_execution_mode = "off"
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
# The lessons' explorers are ipywidgets, live only in a kernel. An executed explorer cell holds the figure for the
# sliders' starting values and then the widget, whose one-line text says where the sliders move: a static page shows
# that line, not sliders that would move nothing.
nb_mime_priority_overrides = [("html", "application/vnd.jupyter.widget-view+json", None)]
suppress_warnings = ["mystnb.unknown_mime_type"]

autodoc_member_order = "bysource"
autodoc_typehints = "description"
napoleon_numpy_docstring = False

html_theme = "sphinx_book_theme"
html_theme_options = {
    "repository_url": REPOSITORY,
    "repository_branch": BRANCH,
    # The lesson pages sit at the root of the site under their notebook's name, so a page's
    # Colab button opens notebooks/<name>.ipynb: the stored lesson, not this build's executed copy.
    "path_to_docs": "notebooks",
    "launch_buttons": {"colab_url": "https://colab.research.google.com"},
    "use_repository_button": True,
    "use_download_button": True,
    "show_toc_level": 2,
}
html_static_path = []
