"""For every built-in teacher and translator, the card shows exactly what the plugin describes and the
manifest records (the end-to-end runs in tests/test_contracts.py show the manifest gets it from the run)."""

from __future__ import annotations

import pytest

from factory.card import CardContext, build_body
from factory.manifest import Provenance, RunManifest
from factory.recipe import PluginConfig
from factory.teacher_factory import TeacherSpec
from factory.translators import TranslatorProvenance

TEACHERS = {
    "openai": {"plugin": "openai", "model": "gpt-4o-mini", "api": "completions", "base_url": "http://10.0.0.5:8000/v1"},
    "transformers": {"plugin": "transformers", "model": "org/tiny-llama", "dtype": "float32"},
}
TRANSLATORS = {
    "deepl": {"server_url": "http://127.0.0.1:9", "formality": "prefer_less"},
    "llm": {"teacher": {"plugin": "openai", "model": "mt-model", "base_url": "http://127.0.0.1:9/v1"}},
}


def _card(provenance: Provenance) -> str:
    manifest = RunManifest(recipe="r", language="en", provenance=provenance)
    data = RunManifest.from_json(manifest.to_json())  # what export reads back
    return build_body(CardContext(stats=data.to_json(), recipe={}, splits={"train": 1},
                                  data_files={"train": ["train.jsonl"]}), "other")


@pytest.mark.parametrize("name", sorted(TEACHERS))
def test_the_card_names_every_built_in_teachers_model_and_endpoint(name):
    teacher = TeacherSpec.from_section(TEACHERS[name]).provenance()
    body = _card(Provenance(method="self-instruct", teacher=teacher))
    assert teacher.model and teacher.endpoint_kind
    for line in (f"| teacher plugin | {name} |", f"| teacher model | {teacher.model} |",
                 f"| teacher endpoint kind | {teacher.endpoint_kind} |"):
        assert line in body, line
    assert f"by a teacher model ({teacher.model})" in body


@pytest.mark.parametrize("name", sorted(TRANSLATORS))
def test_the_card_names_every_built_in_translators_engine_server_and_settings(name):
    from factory.plugins import get_registry

    cls = get_registry().get("translator", name).obj
    config = PluginConfig("translate", "translator", name, cls, cls.options_model.model_validate(TRANSLATORS[name]))
    description = cls.describe_for(config.options)
    translator = TranslatorProvenance(plugin=name, identity=config.identity, **description.model_dump())
    body = _card(Provenance(translator=translator, translation={"source_lang": "en", "target_lang": "ko"}))
    assert f"| translator | {name} |" in body and f"| translator engine | {description.engine} |" in body
    assert f"| translator server | {description.server} |" in body
    for key, value in description.settings.items():
        assert f"| translator {key} | {value} |" in body
    assert "| translation target_lang | ko |" in body
