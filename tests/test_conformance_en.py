"""The built-in English language passes the language conformance suite."""

from factory.testing.conformance import LanguageConformance


class TestEnglishConformance(LanguageConformance):
    code = "en"
    distribution = "koalpaca-factory"
    sample = "Summarize the main argument of the following paragraph in two sentences."
    other = "다음 문단의 핵심 주장을 두 문장으로 요약하세요."
    mixed = "List 3 uses of Python in data science."
    blacklisted = "Describe the image in detail."
