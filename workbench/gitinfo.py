"""The project's git commit, for model cards and report headers (no heavy imports)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from workbench.config import PROJECT_DIR


def git_state(repo: Path = PROJECT_DIR) -> tuple[str | None, bool | None]:
    """Return the full commit of ``HEAD`` and whether tracked files differ from it.

    Read only: git is asked not to refresh its index.

    Parameters
    ----------
    repo : Path
        A folder in the work tree (default: this project).

    Returns
    -------
    tuple
        ``(commit, dirty)``; ``None`` for what git could not tell (no git, not a work tree).
    """
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(  # noqa: S603 - fixed argument list, no shell
                ["git", "-C", str(repo), *args],  # noqa: S607
                capture_output=True, text=True, timeout=10, check=False, env=env,
            )  # fmt: skip
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return (
        commit.strip() if commit else None,
        None if status is None else bool(status.strip()),
    )
