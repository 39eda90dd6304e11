"""The core's built-in method passes the conformance suite third-party methods run.

(Each plugin distribution runs its own kind's suite in its own tests: plugins/*/tests.)
"""

from __future__ import annotations


from factory.default_plugins.self_instruct import SelfInstruct
from factory.testing.conformance import MethodConformance


class TestSelfInstructConformance(MethodConformance):
    plugin = SelfInstruct
    identity_changes = {"num_prompt_instructions": 2, "num_tasks": 10, "temperature": 0.5, "top_p": 0.9,
                        "max_tokens": 512, "max_stalled_batches": 3, "header": "Write tasks.\n"}
    reply = (
        " Name three rivers in Asia.\n4. Input:\n<noinput>\n4. Output:\nThe Mekong, the Ganges and the Yangtze.\n###\n"
        "5. Instruction: Turn the sentence into a question.\n5. Input:\nThe shop opens at nine.\n5. Output:\n"
        "Does the shop open at nine?\n###\n"
        "6. Instruction: Give a synonym of quick.\n6. Input:\n<noinput>\n6. Output:\nFast."
    )



# -- every built-in filter keeps the filter contract (copied_demonstration, decontaminate, judge_score and
#    translation_qa run the suite in their own test modules)
from factory.default_plugins import filters as builtin  # noqa: E402
from factory.testing.conformance import FilterConformance  # noqa: E402

HEALTHY = {"instruction": "Give three tips for staying healthy.", "output": "Sleep, eat well and walk."}


class TestLengthConformance(FilterConformance):
    plugin = builtin.Length
    options = {"min_words": 3}
    identity_changes = {"target": "output", "min_words": 5, "max_words": 20}
    kept = [HEALTHY]
    rejected = [{"instruction": "Hi there", "output": "Hello."}]


class TestBlacklistConformance(FilterConformance):
    plugin = builtin.Blacklist
    identity_changes = {"target": "output"}
    kept = [HEALTHY]
    rejected = [{"instruction": "Draw a picture of a cat on a mat.", "output": "I cannot."}]


class TestProgramTaskConformance(FilterConformance):
    plugin = builtin.ProgramTask
    identity_changes = {"target": "input"}
    kept = [HEALTHY]
    rejected = [{"instruction": "Write a program that sorts a list of numbers.", "output": "sorted(x)"}]


class TestPunctuationStartConformance(FilterConformance):
    plugin = builtin.PunctuationStart
    identity_changes = {"target": "output"}
    kept = [HEALTHY]
    rejected = [{"instruction": "- name three colours of the rainbow", "output": "Red, orange, yellow."}]


class TestScriptConformance(FilterConformance):
    plugin = builtin.Script
    identity_changes = {"target": "output"}
    kept = [HEALTHY]
    rejected = [{"instruction": "건강을 지키는 세 가지 방법을 알려 주세요.", "output": "잘 자고 잘 먹기."}]


class TestEmptyOutputConformance(FilterConformance):
    plugin = builtin.EmptyOutput
    identity_changes = {"target": "assistant_turns"}
    kept = [HEALTHY]
    rejected = [{"instruction": "Name a colour of the sky.", "output": "<noinput>"}]


class TestOutputEqualsInputConformance(FilterConformance):
    plugin = builtin.OutputEqualsInput
    kept = [{"instruction": "Correct the spelling.", "input": "teh cat", "output": "the cat"}]
    rejected = [{"instruction": "Correct the spelling.", "input": "the cat", "output": "the cat"}]


class TestNearDuplicateConformance(FilterConformance):
    plugin = builtin.NearDuplicate
    identity_changes = {"target": "output", "threshold": 0.5, "against_seeds": False}
    seeds = [HEALTHY]
    kept = [{"instruction": "Translate the sentence into French.", "output": "Bonjour."}]
    rejected = [{"instruction": "Give three tips for staying very healthy.", "output": "Walk."}]


class TestLanguageIdConformance(FilterConformance):
    plugin = builtin.LanguageId
    options = {"languages": ["en"]}
    identity_changes = {"target": "instruction", "languages": ["en", "fr"], "min_confidence": 0.9, "rule": "first",
                        "min_letters": 3}
    kept = [HEALTHY]
    rejected = [{"instruction": "Donne trois conseils pour rester en bonne santé.", "output": "Dors bien et marche."}]


# -- the built-in local executor (the ray one runs the suite in tests/test_ray_executor.py)
from factory.executors import LocalExecutor  # noqa: E402
from factory.testing.conformance import ExecutorConformance  # noqa: E402


class TestLocalExecutorConformance(ExecutorConformance):
    plugin = LocalExecutor
    options = {"workers": 2}
    runtime_changes = {"workers": 1}
