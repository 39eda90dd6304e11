"""`base_model: bundled:NAME` reuses the transformers plugin's bundled models; a wrong name is one clear line."""

import pytest

from factory.errors import UserError
from factory_peft.modeling import resolve_base_model


def test_plain_names_pass_through():
    assert resolve_base_model("EleutherAI/polyglot-ko-12.8b") == "EleutherAI/polyglot-ko-12.8b"


def test_unknown_bundled_model_is_a_user_error():
    pytest.importorskip("factory_transformers")
    with pytest.raises(UserError) as info:
        resolve_base_model("bundled:llama-9000")
    assert "unknown bundled model 'llama-9000'" in str(info.value) and "gemma3-270m" in str(info.value)
