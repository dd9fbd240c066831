"""Where the bundled vmst.io knowledge is: package data when installed, the checkout's folder when not.

The wheel installs the top-level `knowledge/` folder as `faqbot/bundled_knowledge/`
(see pyproject.toml), so `pip install faqbot` answers out of the box. In a checkout
(an editable install) there is no such folder inside the package, and the
checkout's own `knowledge/` is used, so edits to it show at once.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

CHECKOUT_KNOWLEDGE = Path(__file__).resolve().parents[2] / "knowledge"


def bundled_knowledge() -> Path:
    """The folder of the knowledge faqbot ships with."""
    installed = files("faqbot") / "bundled_knowledge"
    if installed.is_dir():
        return Path(str(installed))
    return CHECKOUT_KNOWLEDGE
