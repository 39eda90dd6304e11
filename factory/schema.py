"""The recipe JSON schema, composed from the installed plugins' option models.

Each plugin section becomes a ``oneOf`` over the installed plugins of its kind,
told apart by the ``plugin`` key (a ``const``), so an editor completes and
checks teacher, translator, method, publisher and trainer keys as well as the
core's. Nothing here names a plugin: the registry says what is installed.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel, create_model

#: section -> plugin kind; the section model's own fields are the core keys
SECTION_KINDS = {"method": "method", "teacher": "teacher", "translate": "translator", "publish": "publisher",
                 "train": "trainer", "executor": "executor"}


def inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON schema with every local ``$ref`` replaced by its definition (no ``$defs`` left)."""
    defs = schema.get("$defs", {})

    def walk(node: Any, seen: tuple[str, ...]) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                name = ref.split("/")[-1]
                if name in seen:  # a recursive model: leave the reference open
                    return {"type": "object"}
                merged = {**defs.get(name, {}), **{k: v for k, v in node.items() if k != "$ref"}}
                return walk(merged, seen + (name,))
            return {k: walk(v, seen) for k, v in node.items() if k != "$defs"}
        if isinstance(node, list):
            return [walk(v, seen) for v in node]
        return node

    return walk(copy.deepcopy(schema), ())


def _object(model: type[BaseModel]) -> dict[str, Any]:
    schema = inline_refs(model.model_json_schema())
    return {"properties": dict(schema.get("properties", {})), "required": list(schema.get("required", []))}


def plugin_variant(name: str, options_model: type[BaseModel], core: type[BaseModel] | None,
                   description: str = "") -> dict[str, Any]:
    """One ``oneOf`` branch: ``plugin: <name>``, the core keys and the plugin's options."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    for model in (core, options_model):
        if model is None:
            continue
        part = _object(model)
        properties.update(part["properties"])
        required += part["required"]
    properties["plugin"] = {"const": name, "description": description or f"the {name} plugin"}
    return {"title": name, "type": "object", "properties": properties,
            "required": sorted(set(required) | {"plugin"}), "additionalProperties": False}


def _variants(kind: str, core: type[BaseModel] | None) -> list[dict[str, Any]]:
    from factory.plugins import get_registry

    registry = get_registry()
    variants = []
    for entry in registry.entries(kind):
        model = getattr(entry.obj, "options_model", None)
        if model is None:
            continue
        variants.append(plugin_variant(entry.name, model, core, (entry.obj.__doc__ or "").strip().splitlines()[0]
                                       if entry.obj.__doc__ else ""))
    return variants


def _core_model(section: str) -> type[BaseModel] | None:
    from factory.recipe import SECTION_MODELS
    from factory.teaching import TeacherSettings

    if section == "teacher":
        return TeacherSettings
    model = SECTION_MODELS[section]
    # the section model's declared fields, without its allowance for extra (plugin) keys
    return create_model(f"{model.__name__}Core", **{name: (f.annotation, f) for name, f in model.model_fields.items()})


def teacher_section_schema() -> dict[str, Any]:
    """A teacher section wherever it appears (``teacher``, ``translate.teacher``, a judge)."""
    return {"oneOf": _variants("teacher", _core_model("teacher"))}


def recipe_json_schema() -> dict[str, Any]:
    """The full recipe schema: the core's, with each plugin section composed from installed plugins."""
    from factory.plugins import get_registry
    from factory.recipe import Recipe

    schema = inline_refs(Recipe.model_json_schema())
    properties = schema.setdefault("properties", {})
    for section, kind in SECTION_KINDS.items():
        if section not in properties:
            continue
        description = properties[section].get("description", "")
        variants = _variants(kind, _core_model(section))
        properties[section] = {"description": description, "oneOf": variants}
    languages = [plugin_variant(e.name, e.obj.options_model, None) for e in get_registry().entries("language")]
    if "language_options" in properties:
        options = []
        for variant in languages:
            body = {k: v for k, v in variant["properties"].items() if k != "plugin"}
            options.append({"title": variant["title"], "type": "object", "properties": body,
                            "additionalProperties": False})
        properties["language_options"] = {"description": properties["language_options"].get("description", ""),
                                          "anyOf": options}
    if "language" in properties:
        properties["language"]["enum"] = [v["title"] for v in languages]
    return schema
