"""Command-line tools a check needs from the system, installed with apt-get when missing.

The checks that render what a reader sees (pdflatex for the LaTeX tables) call
:func:`ensure_tools`; without root or apt-get they skip with the reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess


class ToolsUnavailable(RuntimeError):
    """The tools are missing and cannot be installed here."""


def ensure_tools(packages: dict[str, str]) -> None:
    """Installs the Debian package of every missing command.

    Args:
        packages: Command name -> the Debian package that provides it.

    Raises:
        ToolsUnavailable: Not root, no apt-get, or the installation failed.
    """
    missing = sorted({package for tool, package in packages.items() if not shutil.which(tool)})
    if not missing:
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise ToolsUnavailable(f"{missing} not installed, and installing needs root and apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
    ):
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1800)
        if done.returncode != 0:
            raise ToolsUnavailable(
                f"`{' '.join(command)}` failed ({done.returncode}): {done.stderr[-2000:]}"
            )
