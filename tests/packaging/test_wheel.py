"""The package as a new user gets it: a wheel built from the checkout, installed into a fresh venv.

Installing pulls faqbot's dependencies from the package index, so this needs the network (the
one test that does) and takes a minute; it is what `pip install faqbot` promises.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_is_listed_for_the_wheel() -> None:
    """pyproject lists packages by hand (the bundled knowledge maps a top-level folder in)."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(init.parent.relative_to(ROOT).parts) for init in (ROOT / "faqbot").rglob("__init__.py")}
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv outside the checkout with faqbot installed from a wheel built from it."""
    work = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(work / "dist"), str(ROOT)],
        check=True,
        timeout=300,
    )
    (wheel,) = (work / "dist").glob("faqbot-*.whl")
    venv.create(work / "venv", with_pip=True)
    python = work / "venv" / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", str(wheel)], check=True, timeout=900)
    return work / "venv" / "bin"


def faqbot(bin_dir: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("FAQBOT_")}
    return subprocess.run(
        [str(bin_dir / "faqbot"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=bin_dir.parent.parent,  # outside the checkout: nothing can come from it
        env=env,
    )


def test_the_installed_wheel_answers_the_bundled_questions(installed: Path) -> None:
    from faqbot import __version__

    assert faqbot(installed, "--version").stdout.strip() == f"faqbot {__version__}"
    asked = faqbot(installed, "ask", "do you block threads")
    assert asked.returncode == 0, asked.stderr
    assert "https://docs.vmst.io/about/threads" in asked.stdout and asked.stderr == ""
    console = faqbot(installed, "console", stdin="who pays for this server?\n")
    assert console.returncode == 0 and "faqbot> " in console.stdout


def test_the_installed_wheel_carries_the_licence(installed: Path) -> None:
    licences = list(installed.parent.glob("lib/python*/site-packages/faqbot-*.dist-info/licenses/LICENSE"))
    assert licences and "MIT License" in licences[0].read_text()


def test_a_missing_extra_is_one_line_naming_the_install(installed: Path) -> None:
    ran = faqbot(installed, "run", "matrix", stdin="")
    assert ran.returncode == 2
    assert ran.stderr.strip().splitlines() == [
        "faqbot: error: FAQBOT_MATRIX_HOMESERVER (matrix.homeserver) is not set, e.g. https://matrix.example.org"
    ]
    env_run = subprocess.run(
        [str(installed / "faqbot"), "run", "discord"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=installed.parent.parent,
        env={"PATH": os.environ["PATH"], "FAQBOT_DISCORD_TOKEN": "x" * 40},
    )
    assert env_run.returncode == 2
    assert env_run.stderr.strip() == "faqbot: error: the discord bot needs discord.py: pip install 'faqbot[discord]'"
