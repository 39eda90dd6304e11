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

