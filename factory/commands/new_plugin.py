"""``factory new-plugin KIND NAME``: scaffold a ready-to-install plugin distribution.

Adding a language, teacher, translator, trainer, publisher, method or filter should be
a copy-and-fill job. The command writes ``koalpaca-factory-NAME/`` with a pyproject.toml
that declares the ``factory`` entry point and requires the core at a compatible
version, a package ``factory_NAME`` whose hook
registers a working placeholder implementation, a tests/ folder that runs the
conformance suite for that kind (``factory.testing.conformance``) and a README
with the next steps. The result installs and passes its own tests unchanged;
every ``EDIT`` marks a placeholder to replace. A language plugin is written for
its script (``--script``): for a Latin-script language the check weighs the
language's letters and function words against English's (:mod:`factory.latin`),
for another script it counts that script's letters; either way it rejects English.

The files come from ``factory/commands/templates/`` (``common/`` for every
kind, one folder per kind; ``language/samples.json`` holds the starting texts per
script and per Latin-script language); ``{{key}}`` placeholders are filled in below.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import click

from factory import __version__
from factory.commands.language_scaffold import LATIN, TEMPLATES, language_values, scripts
from factory.errors import UserError
from factory.hookspecs import KIND_HOOKS
from koalpaca_factory.guard import DISTRIBUTION

#: kind -> the conformance suite its generated tests run
SUITES = {
    "language": "LanguageConformance",
    "teacher": "TeacherConformance",
    "translator": "TranslatorConformance",
    "trainer": "TrainerConformance",
    "publisher": "PublisherConformance",
    "method": "MethodConformance",
    "filter": "FilterConformance",
    "executor": "ExecutorConformance",
}
_NAME_RE = re.compile(r"[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*")
_CODE_RE = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*")
_PLACEHOLDER_RE = re.compile(r"\{\{(\w+)\}\}")
MAX_NAME_LENGTH = 40


def core_requirement() -> str:
    """The core at a compatible version: this minor release series (0.1.x here)."""
    major, minor = (int(part) for part in __version__.split(".")[:2])
    upper = f"{major}.{minor + 1}" if major == 0 else f"{major + 1}"
    return f"{DISTRIBUTION}>={__version__},<{upper}"


@dataclass(frozen=True)
class Scaffold:
    """What gets written for one KIND NAME, and the values the templates are filled with."""

    kind: str
    name: str
    code: str
    command: str  # the command line that made it, quoted in the README
    script: str = LATIN  # language plugins: the script its check is written for

    @property
    def dist(self) -> str:
        return f"{DISTRIBUTION}-" + self.name.replace("_", "-")

    @property
    def package(self) -> str:
        return "factory_" + self.name.replace("-", "_")

    @property
    def class_name(self) -> str:
        stem = "".join(part.capitalize() for part in re.split(r"[-_]", self.name))
        return stem + self.kind.capitalize()

    @property
    def plugin_name(self) -> str:
        """The name the plugin registers under: the language code for languages, NAME otherwise."""
        return self.code if self.kind == "language" else self.name

    def values(self) -> dict[str, str]:
        language_name = self.name.replace("-", " ").replace("_", " ").title()
        summaries = {
            "language": f"The {language_name} language ({self.code}) for factory.",
            "teacher": f"The {self.name} teacher for factory.",
            "translator": f"The {self.name} translator for factory.",
            "trainer": f"The {self.name} trainer for factory.",
            "publisher": f"The {self.name} publisher for factory.",
            "method": f"The {self.name} generation method for factory.",
            "filter": f"The {self.name} filter for factory.",
            "executor": f"The {self.name} executor for factory.",
        }
        values = {
            "kind": self.kind,
            "name": self.name,
            "code": self.code,
            "dist": self.dist,
            "core_dist": DISTRIBUTION,
            "core_requirement": core_requirement(),
            "package": self.package,
            "module": self.kind,
            "class": self.class_name,
            "hook": KIND_HOOKS[self.kind],
            "plugin_name": self.plugin_name,
            "entry_name": self.package.removeprefix("factory_"),
            "suite": SUITES[self.kind],
            "language_name": language_name,
            "summary": summaries[self.kind],
            "command": self.command,
        }
        if self.kind == "language":
            values.update(language_values(self.code, self.script, language_name))
        return values

    def files(self) -> dict[str, Path]:
        """Output path (relative to the distribution folder) -> template file."""
        kind_dir = TEMPLATES / self.kind
        return {
            "pyproject.toml": TEMPLATES / "common" / "pyproject.toml.tmpl",
            "README.md": TEMPLATES / "common" / "README.md.tmpl",
            f"{self.package}/__init__.py": TEMPLATES / "common" / "__init__.py.tmpl",
            f"{self.package}/{self.kind}.py": kind_dir / "plugin.py.tmpl",
            f"tests/test_{self.kind}.py": kind_dir / "test_plugin.py.tmpl",
        }


def render(template: str, values: dict[str, str]) -> str:
    """Fill ``{{key}}`` placeholders; an unknown key is a bug in the templates, not a user error."""
    def replace(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            raise KeyError(f"template placeholder {{{{{key}}}}} has no value")
        return values[key]

    return _PLACEHOLDER_RE.sub(replace, template)


def check_name(name: str) -> None:
    lowered = name.lower()
    for prefix in (f"{DISTRIBUTION}-", "factory-", "factory_"):
        if lowered.startswith(prefix):
            raise UserError(f"NAME {name!r}: give the short name ({name[len(prefix):]!r}); "
                            f"the distribution is called {DISTRIBUTION}-NAME")
    if len(name) > MAX_NAME_LENGTH or not _NAME_RE.fullmatch(name):
        raise UserError(
            f"NAME {name!r}: use lowercase letters and digits, starting with a letter, optionally joined by "
            f"'-' or '_' (at most {MAX_NAME_LENGTH} characters), e.g. 'xx' or 'acme-llm'"
        )


def scaffold(kind: str, name: str, language: str | None = None, directory: str | Path = ".",
             script: str | None = None) -> Path:
    """Write the plugin distribution for ``kind``/``name`` under ``directory``; return its folder."""
    if kind not in SUITES:
        raise UserError(f"KIND {kind!r}: one of {', '.join(SUITES)}")
    check_name(name)
    if language is not None and kind not in ("language", "translator"):
        raise UserError(f"--language applies to language and translator plugins, not to a {kind}")
    if script is not None and kind != "language":
        raise UserError(f"--script applies to language plugins, not to a {kind}")
    if script is not None and script not in scripts():
        raise UserError(f"--script {script!r}: one of {', '.join(scripts())}")
    code = language if language is not None else (name if kind == "language" else "de")
    if not _CODE_RE.fullmatch(code):
        what = "--language" if language is not None else "NAME (the language code, unless --language is given)"
        raise UserError(f"{what} {code!r}: expected a language code such as 'ja', 'pt-BR' or 'yue'")
    command = (f"factory new-plugin {kind} {name}" + (f" --language {language}" if language is not None else "")
               + (f" --script {script}" if script is not None else ""))
    spec = Scaffold(kind=kind, name=name, code=code, command=command, script=script or LATIN)
    parent = Path(directory)
    if not parent.is_dir():
        raise UserError(f"--dir {parent}: no such directory")
    target = parent / spec.dist
    if target.exists():
        raise UserError(f"{target}: already exists; choose another NAME or --dir, or remove it first")
    values = spec.values()
    if "script_block" in values:
        values["script_block"] = render(values["script_block"], values).rstrip("\n")
    values["kind_readme"] = render((TEMPLATES / kind / "README.md.tmpl").read_text(encoding="utf-8"), values)
    rendered = {path: render(template.read_text(encoding="utf-8"), values) for path, template in spec.files().items()}
    for relative, text in rendered.items():
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return target


@click.command("new-plugin")
@click.argument("kind", type=click.Choice(list(SUITES)))
@click.argument("name")
@click.option("--language", "language", metavar="CODE",
              help="Language code (a language plugin's code, default NAME; a translator's test target).")
@click.option("--script", "script", type=click.Choice(scripts()),
              help="A language plugin's script (default: latin); its script check is written for it and rejects English.")
@click.option("--dir", "directory", type=click.Path(path_type=Path), default=Path("."), show_default=True,
              help="Folder to create koalpaca-factory-NAME/ in.")
def new_plugin_command(kind: str, name: str, language: str | None, script: str | None, directory: Path) -> None:
    """Scaffold a ready-to-install plugin distribution koalpaca-factory-NAME/ for KIND.

    It contains pyproject.toml (with the `factory` entry point), the package
    factory_NAME with a working placeholder implementation, tests that run
    factory's conformance suite for KIND, and a README with the next steps.
    """
    target = scaffold(kind, name, language, directory, script)
    spec_name = target.name
    click.echo(f"wrote {target}/ ({kind} plugin, distribution {spec_name})")
    click.echo("next:")
    click.echo(f"  pip install -e {target}")
    click.echo(f"  python -m pytest {target / 'tests'}")
    click.echo("  factory plugins")
    click.echo(f"then replace every EDIT placeholder (see {target / 'README.md'})")
