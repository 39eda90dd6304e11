"""Is the installed ``factory`` package ours, and whole? One line saying what is wrong when not.

Why: factory_boy installs ``factory/__init__.py``, ``factory/errors.py``... into
the same ``site-packages/factory/`` folder as koalpaca-factory. pip does not
notice; whichever is installed last replaces the other's shared files, both
break, and uninstalling either deletes files of the other. The check compares
the folder with the RECORD of our own installed distribution (files we do not
ship mean another package shares the folder; files we ship that are missing
mean one that shared it was uninstalled). An editable or source checkout has no
RECORD beside the package, so there the package must hold our own modules.

It reads a few directory listings and one small file, so the CLI stays fast;
the slow part (finding which distribution owns a foreign file) runs only
when something is wrong.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

DISTRIBUTION = "koalpaca-factory"
PACKAGE = "factory"
#: modules only our package has: a ``factory`` folder without them is someone else's
OWN_MODULES = ("cli.py", "plugins.py", "recipe.py")
ISOLATED_INSTALL = (f"install {DISTRIBUTION} in an environment of its own: `pipx install {DISTRIBUTION}`, "
                    f"`uv tool install {DISTRIBUTION}`, or a separate venv (python -m venv ~/.venvs/factory)")

_checked: str | None = None
_done = False


def _own_record(site: Path) -> set[str] | None:
    """Top-level file names of ``factory/`` in our RECORD in ``site``, or None when we are not installed there."""
    for info in site.glob(f"{DISTRIBUTION.replace('-', '_')}-*.dist-info"):
        try:
            lines = (info / "RECORD").read_text(encoding="utf-8").splitlines()
        except OSError:
            continue
        prefix = PACKAGE + "/"
        names = {line.split(",", 1)[0][len(prefix):] for line in lines if line.startswith(prefix)}
        names = {name for name in names if "/" not in name}
        if names:  # an editable install's RECORD lists no package files
            return names
    return None


def _owners(site: Path, names: set[str]) -> list[str]:
    """``name version`` of each other distribution in ``site`` whose RECORD lists one of ``factory/<names>``."""
    wanted = {f"{PACKAGE}/{name}" for name in names}
    found = []
    for info in sorted(site.glob("*.dist-info")):
        if info.name.startswith(DISTRIBUTION.replace("-", "_") + "-"):
            continue
        try:
            record = (info / "RECORD").read_text(encoding="utf-8").splitlines()
        except OSError:
            continue
        if any(line.split(",", 1)[0] in wanted for line in record):
            name, _, version = info.name.removesuffix(".dist-info").partition("-")
            found.append(f"{name} {version}".strip())
    return found


def _shown(names: set[str], limit: int = 4) -> str:
    ordered = sorted(names)
    return ", ".join(ordered[:limit]) + (f" and {len(ordered) - limit} more" if len(ordered) > limit else "")


def problem() -> str | None:
    """What is wrong with the ``factory`` package found on ``sys.path``, in one line; None when it is ours and whole."""
    global _checked, _done
    if _done:
        return _checked
    _checked, _done = _problem(), True
    return _checked


def _problem() -> str | None:
    spec = importlib.util.find_spec(PACKAGE)  # locates the package without running its __init__
    if spec is None or not spec.submodule_search_locations:
        return f"the '{PACKAGE}' package of {DISTRIBUTION} is not installed; reinstall it ({ISOLATED_INSTALL})"
    folder = Path(next(iter(spec.submodule_search_locations)))
    site = folder.parent
    present = {p.name for p in folder.iterdir() if p.is_file()} if folder.is_dir() else set()
    expected = _own_record(site)
    if expected is None:  # editable or source checkout: the folder must at least be our package
        if all(name in present for name in OWN_MODULES):
            return None
        foreign, missing = present, set(OWN_MODULES) - present
    else:
        foreign, missing = present - expected, expected - present
    if foreign:
        owners = _owners(site, foreign)
        who = " and ".join(owners) if owners else "another package"
        return (f"{folder} is shared by {DISTRIBUTION} and {who} (both install a package named '{PACKAGE}'; "
                f"files we do not ship: {_shown(foreign)}), so they overwrite each other and neither works; "
                f"{ISOLATED_INSTALL}")
    if missing:
        return (f"{folder} lacks files of {DISTRIBUTION} ({_shown(missing)}): a package that shared the folder "
                f"(factory_boy installs one named '{PACKAGE}') was uninstalled and took them along; "
                f"reinstall with `pip install --force-reinstall {DISTRIBUTION}`, or better {ISOLATED_INSTALL}")
    return None


def ensure_own_package() -> None:
    """Raise ImportError (one line) when the ``factory`` folder is not ours alone; called by ``import factory``."""
    found = problem()
    if found:
        raise ImportError(found)
