"""The Korean language plugin passes factory's language conformance suite."""

from factory.testing.conformance import LanguageConformance


class TestKoreanConformance(LanguageConformance):
    code = "ko"
    distribution = "koalpaca-factory-ko"
    sample = "다음 문단의 핵심 주장을 두 문장으로 요약하세요."
    other = "Summarize the main argument of the following paragraph in two sentences."
    mixed = "Python에서 리스트를 정렬하는 방법 3가지를 설명해 주세요."
    blacklisted = "다음 이미지에 나오는 사람을 묘사하세요."
    identity_changes = {"drop_particles": True, "drop_endings": False, "drop_symbols": False}
