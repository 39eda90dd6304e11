"""The method conformance suite on ai-feedback and pairwise-judge. A constant reply can make no preference (every
answer would tie), so the suite's teacher answers as the deterministic preference teacher; an empty reply still
must give no broken record."""

from __future__ import annotations

import pytest

from factory.default_plugins.ai_feedback import AIFeedback
from factory.default_plugins.pairwise_judge import PairwiseJudge
from factory.testing import fake_teacher
from factory.testing.conformance import MethodConformance
from factory.testing.plugins import registered
from factory.testing.responders import PreferenceTeacher

FAKE = {"plugin": "fake", "responder": "factory.testing.responders:preference_responder"}


class _PreferenceConformance(MethodConformance):
    reply = "(answered by PreferenceTeacher)"
    runtime_changes = {"prompts": "elsewhere.jsonl"}

    @pytest.fixture(autouse=True)
    def _fake_teacher(self):  # the teacher plugin the identity changes name
        with registered(fake_teacher):
            yield

    def context(self, language, seeds, reply=None):
        ctx = super().context(language, seeds, reply)
        if reply is None:
            ctx.teacher.teacher._respond = PreferenceTeacher()
        return ctx


class TestAIFeedbackConformance(_PreferenceConformance):
    plugin = AIFeedback
    options = {"answers": 4, "margin": 1}
    identity_changes = {"prompts_format": "alpaca", "answers": 3, "teachers": [FAKE], "judge": FAKE, "margin": 2,
                        "temperature": 0.2, "max_tokens": 128, "judge_max_tokens": 64, "judge_attempts": 1}


class TestPairwiseJudgeConformance(_PreferenceConformance):
    plugin = PairwiseJudge
    identity_changes = {"prompts_format": "alpaca", "teachers": [FAKE], "judge": FAKE, "temperature": 0.2,
                        "max_tokens": 128, "judge_max_tokens": 64, "judge_attempts": 1}
