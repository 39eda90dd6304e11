"""Training templates are reproduced exactly: models are trained and served on these strings."""

from factory.languages import ALPACA_STANFORD_TEMPLATE, ALPACA_TEMPLATE, KOALPACA_TEMPLATE


def test_alpaca_formats():
    text = ALPACA_TEMPLATE.render("Add the numbers.", "2 3")
    assert text.startswith("Below is an instruction that describes a task, paired with an input that provides further context.")
    assert text.endswith("### Instruction:\nAdd the numbers.\n\n### Input:\n2 3\n\n### Response:\n")
    assert ALPACA_TEMPLATE.render("Say hi.").endswith(
        "completes the request.\n\n### Instruction:\nSay hi.\n\n### Response:\n")
    assert ALPACA_STANFORD_TEMPLATE.render("Say hi.") == ALPACA_TEMPLATE.render("Say hi.")[:-1]


def test_koalpaca_format():
    assert KOALPACA_TEMPLATE.render("한국의 수도는?") == "### 질문: 한국의 수도는?\n\n### 답변:"
    assert KOALPACA_TEMPLATE.render("요약해 주세요.", "긴 글") == "### 질문: 요약해 주세요.\n\n### 맥락: 긴 글\n\n### 답변:"
    assert KOALPACA_TEMPLATE.response_prefix == " "
