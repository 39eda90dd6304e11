"""recipe -> plan: the ordered stages a recipe runs, and what invalidates earlier work."""

from __future__ import annotations

from typing import Any

from factory.recipe import LoadedRecipe

def build_plan(loaded: LoadedRecipe) -> list:
    from factory.stages.export import ExportStage
    from factory.stages.generate import GenerateStage
    from factory.stages.process import ProcessSourceStage
    from factory.stages.publish import PublishStage
    from factory.stages.seed import SeedStage
    from factory.stages.source import SourceStage

    recipe = loaded.recipe
    stages: list = []
    if recipe.method:
        stages += [SeedStage(), GenerateStage()]
    elif recipe.has_source:
        stages += [SourceStage(), ProcessSourceStage(translate=recipe.translate is not None)]
    if recipe.is_data_recipe and recipe.export.enabled:
        stages.append(ExportStage())
    if recipe.publish:
        stages.append(PublishStage())
    if recipe.train:
        from factory.stages.train import TrainStage

        stages.append(TrainStage())
    return stages


def plan_requirements(loaded: LoadedRecipe, plan: list) -> list[Any]:
    """Everything the run needs before anything is paid: each stage's and each named plugin's requirements."""
    needs: list[Any] = []
    for stage in plan:
        needs += list(getattr(stage, "requirements", lambda _loaded: [])(loaded))
    for section, config in loaded.plugins.items():
        if section in ("publish", "train") and not _runs(section, plan):
            continue
        for item in config if isinstance(config, list) else [config]:  # filters: a list of configs
            needs += item.requirements()
    method = loaded.plugins.get("method")
    if method is not None:
        for spec in method.cls.teachers_for(method.options).values():
            needs += spec.requirements()
    return needs


def _runs(section: str, plan: list) -> bool:
    return any(stage.name == section for stage in plan)


def plan_problems(loaded: LoadedRecipe, plan: list | None = None, *, modules: bool = True,
                  env: bool = True) -> list[str]:
    """One line per unmet requirement (a package to install, a key to set), each named once."""
    from factory.contracts import unmet

    return unmet(plan_requirements(loaded, plan if plan is not None else build_plan(loaded)), modules=modules, env=env)


def fingerprint(loaded: LoadedRecipe, inputs_sha256: str | None) -> dict[str, Any]:
    """What earlier accepted records depend on: every plugin's identity and the core fields that change data.

    Built only from identities (:meth:`factory.contracts.Plugin.identity_for`) and core sections with their
    runtime fields left out, so no option name of any plugin appears here.
    """
    from factory.contracts import identity_of, jsonable

    recipe = loaded.recipe
    plugins = loaded.plugins
    fp: dict[str, Any] = {"seed": recipe.seed, "batch_size": recipe.batch_size,
                          "language": plugins["language"].identity,
                          "filters": [config.identity for config in plugins.get("filters", [])]}
    if recipe.method:
        fp["method"] = {**plugins["method"].identity, **identity_of(recipe.method), "inputs_sha256": inputs_sha256}
    if recipe.source:
        fp["source"] = {**identity_of(recipe.source), "sha256": inputs_sha256}
    if recipe.sources:
        fp["sources"] = {"items": [identity_of(item) for item in recipe.sources], "sha256": inputs_sha256}
    if recipe.conversations:
        fp["conversations"] = identity_of(recipe.conversations)
    if loaded.teacher is not None and recipe.is_data_recipe:
        fp["teacher"] = loaded.teacher.identity
    if recipe.translate:
        fp["translate"] = {**identity_of(recipe.translate), **plugins["translate"].identity}
    return jsonable(fp)
