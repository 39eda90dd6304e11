"""The openai teacher passes the teacher conformance suite, against the loopback OpenAI server."""

from __future__ import annotations

import pytest

from factory.testing.conformance import TeacherConformance
from factory_openai.loopback import LoopbackOpenAI
from factory_openai.teacher import OpenAITeacher


class TestOpenAITeacherConformance(TeacherConformance):
    plugin = OpenAITeacher
    secret = "sk-" + "loopback-conformance-0123456789"  # fake, assembled at run time
    options = {"model": "loopback-model", "base_url": "http://127.0.0.1:9/v1"}
    identity_changes = {"model": "other-model", "base_url": "http://127.0.0.1:10/v1", "api": "completions",
                        "extra_body": {"top_k": 5}}
    runtime_changes = {"endpoint_concurrency": 4, "api_key_env": "OTHER_KEY", "organization_env": "OTHER_ORG", "mode": "batch", "stream": True,
                       "structured_outputs": "never", "batch_poll_s": 5.0, "batch_max_requests": 100,
                       "batch_max_bytes": 100_000}

    @pytest.fixture
    def make_teacher(self, monkeypatch):
        monkeypatch.setenv("OPENAI_API_KEY", self.secret)
        with LoopbackOpenAI(latency_s=0.05) as server:
            yield lambda: OpenAITeacher(model="loopback-model", base_url=server.base_url)
