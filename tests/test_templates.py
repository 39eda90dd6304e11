"""Training formats are reproduced exactly: models are trained and served on these strings."""

import re

from factory import chat_formats
from factory.languages import ALPACA_STANFORD_TEMPLATE, ALPACA_TEMPLATE, Language


def test_alpaca_formats():
    text = ALPACA_TEMPLATE.render("Add the numbers.", "2 3")
    assert text.startswith("Below is an instruction that describes a task, paired with an input that provides further context.")
    assert text.endswith("### Instruction:\nAdd the numbers.\n\n### Input:\n2 3\n\n### Response:\n")
    assert ALPACA_TEMPLATE.render("Say hi.").endswith(
        "completes the request.\n\n### Instruction:\nSay hi.\n\n### Response:\n")
    assert ALPACA_STANFORD_TEMPLATE.render("Say hi.") == ALPACA_TEMPLATE.render("Say hi.")[:-1]


def test_base_language_offers_only_language_neutral_formats():
    # KoAlpaca is Korean-specific: it belongs to the Korean plugin, not to every language
    assert set(Language.templates) == {"alpaca", "alpaca-stanford"}
    assert set(Language.chat_formats) == {"vicuna-v1.1", "chatml"}
    assert Language().chat_format().name == "vicuna-v1.1" and Language().chat_format("chatml") is chat_formats.CHATML


def test_chat_formats_mark_every_assistant_reply_for_the_loss():
    for fmt in chat_formats.BUILTIN.values():
        body = fmt.jinja(bos=False)
        assert body.count("{%- generation -%}") == 1 and body.count("{%- endgeneration -%}") == 1
        assert "add_generation_prompt" in body
        assert fmt.jinja(bos=True).startswith("{{- bos_token -}}") and "bos_token" not in body
    # the reply's end token is inside the generation block, so the model learns to stop
    learned = re.search(r"generation -%\}(.*?)\{%- endgeneration", chat_formats.VICUNA_V11.body).group(1)
    assert "eos_token" in learned
    learned = re.search(r"generation -%\}(.*?)\{%- endgeneration", chat_formats.CHATML.body).group(1)
    assert "<|im_end|>" in learned and chat_formats.CHATML.stop == "<|im_end|>"
