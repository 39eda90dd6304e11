"""recipe -> plan: the ordered stages a recipe runs, and what invalidates earlier work."""

from __future__ import annotations

from typing import Any

from factory.recipe import LoadedRecipe

#: settings that change how fast or where we call, never what comes back
_TEACHER_RUNTIME_KEYS = {"concurrency", "requests_per_minute", "tokens_per_minute", "max_attempts", "backoff_initial_s",
                         "backoff_max_s", "timeout_s", "price", "base_url", "api_key_env", "organization_env",
                         "device", "batch_size", "max_batch_wait_ms", "torch_threads", "dtype",
                         "mode", "stream", "structured_outputs", "batch_poll_s", "batch_max_requests", "batch_max_bytes"}
_TRANSLATE_RUNTIME_KEYS = {"max_attempts", "backoff_initial_s", "price_per_million_chars", "server_url", "auth_key_env",
                           "concurrency", "max_texts_per_request", "max_request_bytes"}


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
    elif recipe.source:
        stages += [SourceStage(), ProcessSourceStage(translate=recipe.translate is not None)]
    if recipe.is_data_recipe and recipe.export.enabled:
        stages.append(ExportStage())
    if recipe.publish:
        stages.append(PublishStage())
    if recipe.train:
        from factory.stages.train import TrainStage

        stages.append(TrainStage())
    return stages


def fingerprint(loaded: LoadedRecipe, seed_sha256: str | None) -> dict[str, Any]:
    """The recipe fields whose change makes earlier accepted records invalid."""
    recipe = loaded.recipe
    options = loaded.plugin_options
    fp: dict[str, Any] = {"language": recipe.language, "language_options": recipe.language_options, "seed": recipe.seed, "batch_size": recipe.batch_size,
                          "filters": recipe.filters.model_dump(mode="json")}
    if recipe.method:
        fp["method"] = {"plugin": recipe.method.plugin, "seeds_sha256": seed_sha256, **options.get("method", {})}
    if recipe.source:
        fp["source"] = {**recipe.source.model_dump(mode="json"), "sha256": seed_sha256}
    if recipe.teacher and recipe.is_data_recipe:
        teacher = {k: v for k, v in options.get("teacher", {}).items() if k not in _TEACHER_RUNTIME_KEYS}
        fp["teacher"] = {"plugin": recipe.teacher.plugin, **teacher}
    if recipe.translate:
        t = recipe.translate.model_dump(mode="json")
        plugin_opts = options.get("translate", {})
        fp["translate"] = {k: v for k, v in {**t, **plugin_opts}.items() if k not in _TRANSLATE_RUNTIME_KEYS and k != "model_extra"}
    return _jsonable(fp)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
