"""Korean wording of the prompts beyond self-instruct: Evol-Instruct, the original self-instruct, the judge rubric,
self-chat's role prompts, distill's refusal patterns and the pairwise comparison.

Written for this project in natural Korean (the operations and rules are the papers'; the sentences
are ours). The core methods and filters look them up with ``Language.wording(key, english)``.
"""

from __future__ import annotations

from factory.default_plugins.distill import DistillWording
from factory.default_plugins.evol_instruct import EvolWording
from factory.default_plugins.pairwise_judge import PairwiseWording
from factory.default_plugins.self_chat import SelfChatWording
from factory.default_plugins.self_instruct_original import OriginalWording
from factory.quality_judge import QualityRubric

KOREAN_EVOL = EvolWording(
    in_depth=(
        "AI 비서를 학습시킬 과제를 더 어렵게 만드는 중입니다. 아래 과제를 사람이 이해할 수 있고 유능한 비서라면 "
        "여전히 답할 수 있는, 더 까다로운 과제로 고쳐 써 주세요. 과제에 표, 코드 같은 입력이 있으면 그대로 두세요. "
        "어렵게 만드는 방법: {rule} 늘어나는 분량은 10~20단어 정도로만 하세요. 새 과제는 한국어로 쓰고, 새 과제만 "
        "쓰세요. 원래 과제나 고쳐 쓰기, 이 규칙에 대해서는 언급하지 마세요.\n\n과제:\n{prompt}\n\n더 어려운 과제:\n"
    ),
    in_breadth=(
        "AI 비서를 학습시킬 과제를 모으는 중입니다. 아래 과제에서 착안해 새 과제를 하나 써 주세요. 분야는 같지만 "
        "더 드문 주제를 다루고, 길이와 난이도는 비슷해야 합니다. 말이 되고 사람이 이해할 수 있으며 비서가 답할 수 "
        "있는 과제여야 합니다. 한국어로 새 과제만 쓰고, 원래 과제나 이 규칙은 언급하지 마세요.\n\n과제:\n{prompt}"
        "\n\n새 과제:\n"
    ),
    rules={
        "add_constraints": "답이 지켜야 할 조건이나 요구 사항을 하나 더 붙이세요.",
        "deepen": "과제가 무언가를 묻는다면 그것을 더 깊고 넓게 묻도록 바꾸세요.",
        "concretize": "과제 속의 일반적인 개념 하나를 더 구체적인 것으로 바꾸세요.",
        "more_reasoning": "간단한 몇 단계로 풀리는 과제라면 여러 단계의 추론을 분명히 요구하도록 바꾸세요.",
        "complicate_input": "과제가 다룰 구체적인 입력을 빠짐없이 적어 넣으세요. 작은 표, 코드 조각, 수식, 짧은 "
                            "데이터 목록 같은 것입니다.",
    },
    same_task=(
        "다음 두 과제는 같은 조건과 요구 사항, 같은 깊이와 폭으로 같은 것을 요구합니까?\n\n첫째 과제:\n{first}\n\n"
        '둘째 과제:\n{second}\n\nJSON으로만 답하세요: {{"same": true}} 또는 {{"same": false}}'
    ),
    refusal_words=("죄송", "미안", "할 수 없", "도와드릴 수 없", "답변드릴 수 없", "sorry"),
    stop_words=tuple("이 그 저 것 수 등 및 또는 그리고 하 되 있 없 않 은 는 이 가 을 를 에 의 도 로 으로 와 과 "
                     "에서 에게 한테 다 요".split()),
    copy_markers=("더 어려운 과제", "새 과제:", "원래 과제", "고쳐 쓴 과제", "주어진 과제", "#rewritten prompt#",
                  "rewritten prompt", "given prompt"),
    labels=("더 어려운 과제:", "새 과제:", "과제:"),
)

KOREAN_ORIGINAL = OriginalWording(
    generate_header=("AI 비서가 할 수 있어야 하는 과제 목록입니다. 위의 과제들과 주제도 종류도 다른 새 과제를 "
                     "한 줄에 하나씩, 한국어로 이어서 쓰세요."),
    task_label="과제",
    classify_header=("각 과제가 분류 과제인지 판단하세요. 분류 과제란 답이 정해진 작은 집합(긍정/부정, 범주, 예/아니요 "
                     "등)에서 고른 레이블 하나인 과제입니다."),
    classify_question="분류 과제인가?",
    yes=("예", "네", "yes"),
    no=("아니요", "아니오", "아니", "no"),
    output_first_header="각 분류 과제의 예시를 쓰세요. 먼저 레이블 하나를 쓰고, 그 레이블에 해당하는 입력을 쓰세요.",
    input_first_header=("각 과제의 예시를 쓰세요. 먼저 입력을 쓰고(입력이 필요 없으면 <noinput>이라고 쓰세요), 이어서 "
                        "올바른 출력을 쓰세요."),
    class_label="레이블",
    input_label="입력",
    output_label="출력",
)

KOREAN_RUBRIC = QualityRubric(
    system=("당신은 지시를 따르는 AI 비서의 학습 데이터를 검토합니다. 응답 하나가 그 지시에 얼마나 좋은 답인지 "
            "엄격하고 일관되게 평가합니다."),
    criteria=(
        "아래 응답을 0점에서 5점 사이로 평가하세요.\n"
        "5: 정확하고 빠짐없으며 도움이 되고, 지시의 모든 부분을 따르며 자연스러운 한국어입니다.\n"
        "4: 정확하고 도움이 되지만 작은 누락이 있거나 표현이 다소 어색합니다.\n"
        "3: 일부만 맞거나 지시의 일부만 따릅니다. 사용자가 고쳐 써야 합니다.\n"
        "2: 대부분 틀렸거나 주제에서 벗어났거나 도움이 되지 않지만 쓸모 있는 부분이 있습니다.\n"
        "1: 틀렸거나 지시에 전혀 답하지 않습니다.\n"
        "0: 비어 있거나, 말이 안 되거나, 해롭거나, 지시와 다른 언어로 쓰였습니다.\n"
        "정확성을 가장 먼저 보고, 그다음 유용성, 그다음 지시의 형식과 조건을 지켰는지를 보세요. 길다는 이유만으로 "
        "점수를 주지 마세요."
    ),
    instruction_label="지시",
    input_label="입력",
    response_label="응답",
    reply_format='다른 말 없이 JSON으로만 답하세요: {"score": <0에서 5 사이의 숫자>, "reason": "<한 문장 이유>"}',
)

KOREAN_SELF_CHAT = SelfChatWording(
    assistant_system="당신은 아는 것이 많고 신중한 AI 비서입니다. 사용자의 마지막 메시지에 한국어로 구체적이고 친절하게 답하세요.",
    user_prompt=(
        "아래는 사람과 AI 비서가 나눈 대화입니다. 당신은 사람 역할을 맡습니다. 사람이 이어서 보낼 메시지를 한국어로 "
        "하나만 쓰세요. 더 자세한 설명이나 비슷한 경우, 헷갈리는 점을 묻는 자연스러운 질문이면 됩니다. 이름표는 붙이지 "
        "마세요. 사람이 필요한 답을 다 얻어서 대화를 끝낼 것 같으면 {stop}만 쓰세요.\n\n{transcript}\n\n사람의 다음 메시지:"
    ),
    transcript_prompt=(
        "호기심 많은 사람과 친절한 AI 비서가 한국어로 나누는 실제 같은 대화를 써 주세요. 아래 질문으로 시작하고, 사람의 "
        "메시지는 {turns}개 정도이며 메시지마다 비서의 답이 이어집니다. 모든 메시지는 새 줄에서 {user_label} 또는 "
        "{assistant_label} 이름표로 시작하고, 그 밖의 말은 쓰지 마세요. 사람이 필요한 답을 얻으면 대화를 끝내세요."
        "\n\n질문: {question}"
    ),
    user_label="[사용자]",
    assistant_label="[AI]",
    stop_marker="[끝]",
)

KOREAN_DISTILL = DistillWording(
    system="당신은 도움이 되는 AI 비서입니다. 한국어로 정확하고 빠짐없이 답하세요.",
    refusal_patterns=(r"죄송(?:하지만|합니다만|하게도)", r"AI\s*(?:언어\s*)?모델(?:로서|이기 때문에|이라서)",
                      r"(?:도와|답변해|답해|알려)\s*드릴 수 없", r"답변(?:을|을 드리기가)? 어렵습니다",
                      r"제공(?:해 드릴|할) 수 없"),
)

KOREAN_PAIRWISE = PairwiseWording(
    system=("당신은 같은 요청에 대한 AI 비서의 응답 두 개를 공정하게 비교합니다. 응답이 제시된 순서나 길이에 "
            "흔들리지 마세요."),
    template=(
        "어느 응답이 요청에 더 잘 맞나요? 정확성을 가장 먼저 보고, 그다음 유용성, 그다음 요청의 형식과 조건을 "
        "지켰는지를 보세요. 어느 쪽도 낫지 않을 때만 무승부(tie)라고 하세요.\n\n"
        "요청:\n{prompt}\n\n응답 A:\n{first}\n\n응답 B:\n{second}\n\n"
        '다른 말 없이 JSON으로만 답하세요: {{"winner": "A" 또는 "B" 또는 "tie", "reason": "<한 문장 이유>"}}'
    ),
)

WORDINGS = {"evol-instruct": KOREAN_EVOL, "self-instruct-original": KOREAN_ORIGINAL, "judge": KOREAN_RUBRIC,
            "self-chat": KOREAN_SELF_CHAT, "distill": KOREAN_DISTILL, "pairwise-judge": KOREAN_PAIRWISE}
