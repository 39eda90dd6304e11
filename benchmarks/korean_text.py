"""Instruction-like Korean, synthesized procedurally for the Korean report benchmark.

The Korean counterpart of ``benchmarks/similarity.py``'s English generator,
and run by the same loop (``similarity.synthesize`` with this module's
``fresh`` and ``edited``): task templates x word lists, invented Korean names
for a long tail of rare words, and light rewrites of earlier instructions
(politeness level, synonyms, fillers) so near-duplicates show up at a
realistic rate. Korean glues particles onto words, so templates write both
forms, ``을(를)``, and :func:`attach_particles` keeps the one the preceding
syllable takes. Lengths are counted in eojeols (space-separated words), the
``ko`` plugin's own measure: 3 to 60, median about 9, like the seed tasks'.
"""

from __future__ import annotations

import random
import re

from similarity import _ALTERNATIVES  # noqa: E402 - sibling benchmark module: "[a|b]" picks one alternative

TOPICS = (
    "기후 변화", "물의 순환", "광합성", "블랙홀", "프랑스 혁명", "머신러닝", "숙면", "가계부 쓰기", "재택근무",
    "전기차", "화산", "주식 시장", "고대 로마", "백신", "소셜 미디어", "재생 에너지", "시간 관리", "심장",
    "산호초", "암호학", "대중교통", "도시 텃밭", "인쇄술", "양자 컴퓨터", "꿀벌", "물가 상승", "마라톤 훈련",
    "면역 체계", "분리수거", "바둑", "재즈", "사막", "공급망", "개인정보 보호", "달 착륙", "지진", "명상",
    "퇴비 만들기", "실크로드", "인공 감미료", "조력 발전", "면접", "팀 회의", "고객 불만", "비밀번호 보안",
    "천연 발효빵", "철새", "주기율표", "판 구조론", "최저 임금", "게임 기획", "우주 망원경", "열대 우림",
    "대공황", "클라우드 컴퓨팅", "응급 처치", "외국어 공부", "발표 요령", "재귀 함수", "정렬 알고리즘", "확률",
    "피타고라스 정리", "복리", "수요와 공급", "미세 플라스틱", "항생제 내성", "3D 프린팅", "전자 기타", "산불",
    "층간 소음", "자율 주행차", "올림픽", "발효 음식", "종이접기", "빙하", "일식", "보드게임", "길거리 음식",
    "판소리", "연말정산", "전세 대출", "수직 농장", "핵융합", "르네상스", "공룡", "수어", "웹툰", "팟캐스트",
    "사이버 보안", "블록체인", "요가", "비타민 D", "집값", "해류", "글꼴 디자인", "민요", "스케이트보드", "양봉",
    "훈민정음", "수력 발전", "버섯 채집", "뜨개질", "항공권 가격", "선거", "냉전", "세균", "다도", "등대",
    "스프레드시트", "데이터베이스 인덱스", "정규 표현식", "단위 테스트", "오픈 소스", "전동 킥보드", "탄소세",
    "커피 로스팅", "늑대", "펭귄", "혜성", "태풍", "미터법", "컨테이너선", "인공위성", "손글씨", "미니멀리즘",
    "미루는 습관", "김장", "한옥", "태권도", "한글날", "장마", "미세먼지", "편의점", "배달 앱", "지하철 노선",
    "주택 청약", "수능", "사교육", "출산율", "고령화", "반려견 산책", "분식", "전통 시장", "국립공원",
)
TOPIC_PREFIXES = (
    "현대", "고대", "도시", "농촌", "디지털", "지역", "세계", "한국", "브라질", "북극", "중세", "산업", "아마추어",
    "전통", "실험적인", "값싼", "고급", "열대", "학생", "공동체", "기업", "전쟁 중의", "전후", "수제",
)
TOPIC_FRAMES = (
    "{t}의 역사", "{t}의 미래", "{t}에 대한 흔한 오해", "{t}의 과학적 원리", "{t}의 윤리적 문제",
    "{t} 분야의 직업", "{t}에 드는 비용", "{t} 초보자가 자주 하는 실수", "{t}의 최근 연구 동향",
    "{t}이(가) 환경에 미치는 영향", "{t}의 기초", "아이들이 {t}을(를) 배우는 방법", "{t}의 위험성",
    "{t} 관련 법규", "{t}의 경제학", "{t}을(를) 둘러싼 논쟁", "{t} 안전 수칙",
)
FORMS = (
    "시", "짧은 이야기", "시조", "삼행시", "상품 설명", "트윗", "블로그 글", "자기소개서", "광고 문구", "수수께끼",
    "대화문", "뉴스 제목", "연설문", "노래 후렴", "영화 줄거리", "이메일", "감사 편지", "채용 공고", "식당 후기",
    "우화", "일기", "보도 자료", "퀴즈", "수업 계획안", "여행 일정표", "메뉴판", "웹툰 대본", "팟캐스트 오프닝",
    "추도사", "사과문", "장보기 목록", "자주 묻는 질문", "슬로건", "잠자리 동화", "토론 입론", "레시피 카드",
    "인스타그램 소개글", "문자 메시지", "축사", "건배사",
)
TONES = (
    "짧은", "재미있는", "격식 있는", "설득력 있는", "밝은", "우울한", "간결한", "자세한", "친근한", "비꼬는",
    "공손한", "극적인", "쉬운", "전문적인", "신비로운", "낙관적인", "재치 있는", "따뜻한", "중립적인",
    "장난스러운", "학술적인", "편안한", "다급한", "향수를 불러일으키는", "차분한", "열정적인", "회의적인",
    "시적인", "감동적인",
)
TONE_ADVERBS = (
    "간결하게", "친근하게", "공손하게", "격식 있게", "재미있게", "설득력 있게", "자연스럽게", "부드럽게",
    "전문적으로", "쉽게", "짧게", "밝게", "차분하게", "정중하게", "생생하게", "담백하게",
)
AUDIENCES = (
    "열 살 아이", "신입 사원", "바쁜 팀장", "완전 초보자", "고등학생", "우리 할머니", "소프트웨어 개발자",
    "긴장한 환자", "외국인 관광객", "채용 위원회", "대학 신입생", "깐깐한 투자자", "어린 자녀를 둔 부모",
    "동네 축구팀", "은퇴한 어르신", "농부", "구의원", "수줍은 십대", "간호사", "요리사들", "집주인",
    "박물관 관람객", "외계인", "1850년에서 온 시간 여행자", "소상공인", "우리 부장님",
)
THINGS = (
    "아이디어", "팁", "질문", "논거", "이유", "예시", "실수", "이름", "사실", "전략", "장점", "위험 요소", "단계",
    "선물 아이디어", "책 제목", "면접 질문", "팀 활동", "건강 간식", "연구 주제", "경고 신호", "구호", "해시태그",
    "아이스브레이커", "비유", "주말 계획", "습관", "규칙", "실험", "취미", "도구",
)
THING_ADJECTIVES = (
    "창의적인", "저렴한", "색다른", "실용적인", "간단한", "흔한", "놀라운", "친환경적인", "돈 안 드는",
    "기억에 남는", "효과적인", "독창적인", "안전한", "재미있는",
)
PURPOSES = (
    "학교 바자회", "작은 빵집", "등산 여행", "생일 파티", "창업 발표", "과학 경진 대회", "결혼식 축사",
    "자선 달리기 대회", "팟캐스트 한 회", "박물관 견학", "비 오는 주말", "가족 모임", "코딩 부트캠프",
    "농산물 직거래 장터", "독서 모임", "캠핑 주말", "회사 송년회", "언어 교환 모임", "중고 장터", "퇴임식",
    "동네 대청소", "바둑 대회", "신제품 출시", "졸업식", "추석 명절", "집들이",
)
LANGUAGES = ("영어", "일본어", "중국어", "프랑스어", "스페인어", "독일어", "베트남어", "태국어", "러시아어",
             "아랍어", "인도네시아어", "이탈리아어", "포르투갈어", "튀르키예어")
#: Verb stems ending in a vowel, so "-는", "-려면" and "-기" attach directly.
GOAL_STEMS = (
    "아끼", "잘하", "배우", "정리하", "준비하", "관리하", "시작하", "개선하", "계획하", "고치", "고르", "줄이",
    "설명하", "기록하", "협상하", "청소하", "마련하", "끝내", "바꾸", "지키", "꾸미",
)
GOAL_OBJECTS = (
    "장보기 비용", "수면 습관", "피아노 연습", "직장 스트레스", "내 코드", "글씨체", "독서 시간", "설탕 섭취",
    "면접 준비", "화분", "텃밭", "5킬로미터 달리기", "옷장", "새는 수도꼭지", "중고차", "휴가", "이력서",
    "결혼 준비", "세금 신고", "자전거", "온라인 강의", "작은 가게", "메일함", "발표 자료", "강아지 훈련",
    "식단", "이사 준비", "출퇴근 시간", "가계 예산", "숙제", "독후감", "자세", "어항", "휴대폰 배터리", "텐트",
    "과학 숙제", "저축 계좌", "여행 계획", "부엌 서랍", "학회 발표", "지출 기록",
)
DOC_KINDS = ("문단", "기사", "이메일", "글", "리뷰", "대화", "보고서", "이야기", "문장", "시", "트윗", "에세이",
             "편지", "연설문", "초록", "레시피", "계약서", "공지문", "댓글", "보도 자료")
LABELS = (
    ("긍정", "부정"), ("사실", "의견"), ("격식체", "비격식체"), ("스팸", "정상 메일"), ("참", "거짓"),
    ("긴급", "비긴급"), ("동물", "식물"), ("소설", "비소설"), ("비꼼", "진심"), ("질문", "진술"), ("안전", "위험"),
    ("관련", "무관"),
)
COUNTS = ("두", "세", "네", "다섯", "여섯", "일곱", "여덟", "아홉", "열")
RELATIVES = ("언니", "형", "삼촌", "이모", "사촌", "이웃", "룸메이트", "어머니", "아버지", "직장 동료", "동생",
             "누나", "오빠")
JOBS = ("간호사", "조종사", "교사", "배관공", "데이터 분석가", "요리사", "변호사", "농부", "사서", "소방관",
        "건축가", "번역가", "바리스타", "사육사", "치과 의사", "게임 기획자")
PLACES = ("부산", "제주", "대구", "광주", "강릉", "전주", "오슬로", "리마", "하노이", "나이로비", "세비야",
          "트빌리시", "작은 시골 마을", "신도시", "바닷가 마을", "산골", "대도시", "남극")
PROGRAMMING = ("파이썬", "자바스크립트", "SQL", "R", "엑셀 수식", "자바")
SURNAMES = ("김", "이", "박", "최", "정", "강", "조", "윤", "장", "임", "한", "오", "서", "신", "권", "황", "안",
            "송", "류", "홍")
GIVEN_SYLLABLES = ("민", "서", "지", "현", "우", "준", "하", "윤", "은", "도", "예", "수", "진", "채", "유", "원",
                   "연", "아", "시", "주", "건", "태", "슬", "린", "율", "온", "별", "솔", "담", "결")

# "^" marks where modifiers go: just before the predicate, since Korean is head-final.
# "[a|b]" picks one alternative: a teacher model words the same kind of task many ways.
TEMPLATES = (
    "{topic}에 관한 {tone} {form}을(를) ^ [써 주세요|작성해 주세요|지어 주세요|만들어 주세요|써 줘|작성하세요].",
    "{audience}에게 {topic}을(를) ^ [설명해 주세요|풀어서 설명해 주세요|쉽게 알려 주세요|설명해 줘|설명하십시오].",
    "{topic}과(와) 관련된 {things} {count} 가지를 ^ [알려 주세요|나열해 주세요|제시하세요|정리해 줘|소개해 주세요].",
    "[다음|아래|주어진|이] {doc}을(를) {label_a}과(와) {label_b} 중 하나로 ^ [분류해 주세요|분류하세요|나눠 주세요|구분해 줘].",
    "[다음|아래|위의|선생님이 보내 준] {doc}을(를) {count} 문장으로 ^ [요약해 주세요|요약하세요|간추려 주세요|요약해 줘|줄여 주세요].",
    "[이|다음|제] {doc}을(를) {language}로 ^ [번역해 주세요|옮겨 주세요|번역하세요|번역해 줘].",
    "{topic}과(와) {topic2}의 차이는 [무엇인가요|뭐예요|무엇입니까]?",
    "{goal_if} [어떻게 해야 하나요|무엇부터 시작하면 좋을까요|어떤 준비가 필요할까요]?",
    "{purpose}에 쓸 {things} {count} 개를 ^ [만들어 주세요|떠올려 주세요|브레인스토밍해 주세요|뽑아 줘].",
    "[다음|아래|제가 쓴|주어진] {doc}을(를) 더 {tone_adv} ^ [고쳐 써 주세요|다듬어 주세요|바꿔 주세요|수정하세요].",
    "{topic}이(가) {place}의 [일상|출퇴근|학교생활|직장 생활]을(를) 어떻게 바꾸는지 ^ [설명해 주세요|이야기해 주세요|서술하세요].",
    "{goal_gi} 위한 방법 {count} 가지를 ^ [제안해 주세요|추천해 주세요|알려 줘|제시하세요].",
    "[이|다음|아래] {doc}에서 [핵심 주장|중심 생각|가장 약한 논거|주요 근거]을(를) ^ [찾아 주세요|찾으세요|짚어 주세요|골라 줘].",
    "{topic}과(와) {topic2}을(를) {audience}의 입장에서 ^ [비교해 주세요|비교하세요|견주어 설명해 주세요].",
    "{purpose}을(를) 위한 [계획|일정표|점검 목록|예산안|타임라인]을(를) ^ [짜 주세요|세워 주세요|만들어 주세요|작성하세요].",
    "{topic}이(가) {audience}에게 왜 중요한가요?",
    "{things}을(를) 다루는 {name}(이)라는 [가게|스타트업|팟캐스트|자선 단체|밴드]의 이름을 ^ [지어 주세요|제안해 주세요|만들어 줘].",
    "{topic}에 대한 [놀라운|특이한|잘 알려지지 않은|재미있는] 사실을 하나 ^ [알려 주세요|말해 줘|소개해 주세요].",
    "{purpose} 전에 {goal_gi} 시작하는 것이 [좋은 생각일까요|현명할까요|괜찮을까요]?",
    "{name} 님이 여는 {purpose} [초대장|안내문|알림 문자]을(를) ^ [써 주세요|작성해 주세요|만들어 주세요].",
    "[다음|아래|이] {doc}에서 [맞춤법|띄어쓰기|문법|논리] 오류를 찾아 ^ [고쳐 주세요|바로잡으세요|수정해 주세요|설명해 주세요].",
    "{topic}의 장단점을 ^ [정리해 주세요|비교해 주세요|나열하세요|말해 줘].",
    "당신이 {place}에 사는 {name}(이)라고 상상하고 {topic}에 대한 [질문에 답해 보세요|짧은 연설을 해 보세요|일기를 써 보세요].",
    "{audience}을(를) 위한 {tone} {form}의 개요를 ^ [짜 주세요|잡아 주세요|작성하세요].",
    "[다음|아래|주어진] {doc}을(를) 근거로 [질문|요청|불만]에 ^ [답해 주세요|답변하세요|응답해 줘].",
    "이 {things} 가운데 {goal_gi}에 가장 도움이 되는 것은 무엇일까요?",
    "{topic}에 관한 주장을 검증할 실험을 ^ [설계해 주세요|제안하세요|설명해 주세요].",
    "[다음|이|아래] {doc}을(를) {tone} {form}(으)로 ^ [바꿔 주세요|바꿔 써 주세요|각색해 주세요].",
    "제 {relative}이(가) {goal_if} 무엇부터 해야 할까요?",
    "{goal_gi}까지 얼마나 걸릴지 ^ [추정하고 근거를 설명해 주세요|예상해 주세요|계산해 주세요].",
    "{topic}에 대해 물어본 {name} 님에게 {tone} 답장을 ^ [써 주세요|작성해 주세요|보내 주세요].",
    "{purpose}에 쓸 {things}을(를) [유용한|비싼|위험한|인기 있는] 순서대로 ^ [정렬해 주세요|나열해 주세요|줄 세워 주세요].",
    "앞으로 {n}년 안에 {topic}이(가) {place}을(를) [바꿀까요|좋게 만들까요|해칠까요]?",
    "[이|다음|아래] {doc}에 나오는 [사람 이름과 날짜|장소와 숫자|인물과 회사]을(를) 모두 ^ [뽑아 주세요|추출하세요|찾아 줘|나열해 주세요].",
    "{name} 씨가 {place}(으)로 이사하면 {topic}이(가) [그의 일|그 가족|그녀의 생활]에 어떤 영향을 줄까요?",
    "[이|다음|아래] {doc}을(를) {n}개 열로 된 표로 ^ [바꿔 주세요|정리해 주세요|변환하세요].",
    "{audience}을(를) 위한 {topic} [퀴즈|시험|상식|면접] 문제를 {n}개 ^ [만들어 주세요|출제해 주세요|내 주세요].",
    "내일 {topic}이(가) [사라진다면|무료가 된다면|값이 두 배가 된다면|금지된다면] 어떤 일이 일어날까요?",
    "{audience}이(가) 쓴 이 {doc}을(를) ^ [평가해 주세요|첨삭해 주세요|검토해 주세요|검토해 줘].",
    "{purpose}에 붙일 {tone} [포스터|현수막|전단지] 문구를 ^ [써 주세요|만들어 주세요|작성하세요].",
    "{topic}과(와) 관련된 {language} 단어 {n}개를 ^ [알려 주세요|가르쳐 주세요|정리해 줘].",
    "방정식 {n}x + {m} = {k}의 해를 ^ [구하세요|구해 주세요|풀어 주세요].",
    "{k}의 {n}퍼센트는 얼마인가요?",
    "{audience}에게 맞는 {topic} [책|팟캐스트|영화|강좌]을(를) {n}개 ^ [추천해 주세요|골라 주세요|소개해 줘].",
    "{place}에서 일하는 {job}의 [하루|일주일|아침|근무 시간]을(를) ^ [묘사해 주세요|그려 주세요|이야기해 주세요].",
    "{purpose} 전에 {job}이(가) [확인해야|준비해야|물어봐야] 할 것을 ^ [정리해 주세요|알려 주세요|목록으로 만들어 주세요].",
    "{goal_if} {job}에게 필요한 {things}을(를) ^ [떠올려 주세요|추천해 주세요|정리해 줘].",
    "[이|다음|아래] {doc}의 [어조|분위기|의도|대상 독자]을(를) ^ [판단해 주세요|말해 주세요|분석하세요].",
    "{programming}(으)로 {topic} 자료를 [정리하는|분석하는|요약하는] [코드|프로그램|스크립트]을(를) ^ [작성해 주세요|짜 주세요|만들어 주세요].",
    "{topic}에 대해 {audience}이(가) 물을 만한 질문 {count} 개를 ^ [만들어 주세요|뽑아 주세요|적어 주세요].",
)
#: Said before the task (30%): who asks and why.
CONTEXTS = (
    "{purpose}을(를) 준비하고 있어요.", "{job}인 친구 {name} 씨를 위한 부탁입니다.", "{place}에서 질문드립니다.",
    "저희 팀은 {topic}을(를) 공부하고 있습니다.", "저는 {audience}을(를) 가르치고 있어요.",
    "[안녕하세요|저기요|안녕], 도움이 필요해요.", "{purpose} 때문에 여쭤봅니다.",
    "제 {relative} {name} 씨가 물어본 거예요.", "시간이 {n}분밖에 없어요.", "{topic}은(는) 처음이에요.",
    "{topic}을(를) 다루는 {tone} 소식지에 쓸 거예요.",
)
#: Inserted before the predicate ("^"), lengthening the task the way people qualify a request.
MODIFIERS = (
    "쉬운 말로", "{count} 문장 이내로", "{audience}도 이해할 수 있게", "근거를 들어", "예시를 {count} 개 이상 들어서",
    "전문 용어 없이", "{name} 작가의 문체로", "{topic}을(를) 고려해서", "{audience}에게 말하듯이",
    "마지막에 짧은 요약을 붙여서", "{tone_adv}", "단계별로", "글머리 기호를 써서", "{topic}과(와) 비교하면서",
    "엽서 한 장에 들어가게", "{language}로", "{topic}을(를) 바탕으로", "뻔한 표현은 피해서", "반전이 있게",
    "번호를 매겨서", "표 형식으로", "핵심만", "존댓말로", "반말로", "{n}00자 이내로", "{purpose}에 맞게",
)
#: Appended after the task when it has no "^" or at random.
EXTRA_SENTENCES = (
    "{topic}도 꼭 언급해 주세요.", "답변은 {tone_adv} 써 주세요.", "읽는 사람은 {audience}(이)라고 생각해 주세요.",
    "{name}(이)라는 이름을 어딘가에 넣어 주세요.", "{purpose}에 어울리게 해 주세요.", "같은 단어를 되풀이하지 마세요.",
    "{purpose}에서 소리 내어 읽을 글이에요.", "{topic2}보다 {topic}에 초점을 맞춰 주세요.",
    "제 친구 {name}은(는) 이게 {topic} 이야기라고 하더라고요.", "가능하면 {things}도 {count} 개 넣어 주세요.",
)
#: Light rewrites between near-duplicates: wording, politeness level, spacing of the request.
SWAPS = {
    "다음": "아래", "아래": "다음", "주어진": "제시된", "주세요.": "주십시오.", "주세요": "줘", "써": "작성해",
    "작성해": "써", "알려": "말해", "짧은": "간단한", "재미있는": "유쾌한", "방법": "방안", "만들어": "꾸며",
    "정리해": "요약해", "찾아": "골라", "요약해": "간추려", "설명해": "풀이해", "쉬운": "간단한", "제안해": "추천해",
}
FILLERS = ("좀", "간단히", "꼭", "한번", "자세히", "빨리", "차근차근", "바로")

# Passages for inputs and outputs: "<subject>은(는) <when/why> <object>을(를) <action>."
SUBJECTS = ("구청", "우리 동네 주민들", "새로 온 팀장", "대부분의 학생", "시의회", "내 동생", "연구팀",
            "지역 농민들", "박물관", "작은 스타트업", "교육청", "엔지니어 두 명", "동네 빵집", "몇몇 손님",
            "오케스트라", "봉사 모임")
OBJECTS = ("여름 축제", "자전거 도로 계획", "연체료", "재활용 사업", "도서관 운영 시간", "주말 장터", "주차 규정",
           "교환 학생 프로그램", "가을 소풍", "소음 규제", "훈련 일정", "마을 텃밭", "과학 경진 대회", "온라인 강좌",
           "명절 메뉴", "채용 박람회")
ACTIONS = ("미루기로 했다", "몇 달 동안 준비했다", "마침내 승인했다", "두고 긴 보고서를 썼다",
           "반대하는 캠페인을 시작했다", "주제로 회의를 열었다", "놓고 몇 시간 동안 논쟁했다", "조용히 취소했다",
           "위한 예산을 두 배로 늘렸다", "두고 의견을 물었다", "위한 새 규칙을 발표했다", "위해 돈을 모았다",
           "찍은 사진을 공유했다", "반대하는 표를 던졌다")
TAILS = ("비용이 계속 오르자", "열띤 토론 끝에", "궂은 날씨에도", "세 번째로", "아무에게도 알리지 않고",
         "모두의 예상을 깨고", "마감 직전에", "엇갈린 평가 속에", "시장이 자리를 비운 사이", "시범 삼아",
         "기록적인 속도로", "설문 결과를 읽고 나서")
CONNECTIVES = ("하지만", "그 결과", "또한", "한편", "예를 들어", "전반적으로", "그래도")

#: A particle written both ways after a word: 을(를), 이(가), 은(는), 과(와), (으)로, (이)라는...
_PARTICLE = re.compile(r"(\S)(을\(를\)|이\(가\)|은\(는\)|과\(와\)|\(으\)로|\(이\)라는|\(이\)라고)")
_FORMS = {"을(를)": ("을", "를"), "이(가)": ("이", "가"), "은(는)": ("은", "는"), "과(와)": ("과", "와"),
          "(으)로": ("으로", "로"), "(이)라는": ("이라는", "라는"), "(이)라고": ("이라고", "라고")}
_RIEUL = 8  # index of the final consonant ㄹ, which takes 로 rather than 으로


def _coda(syllable: str) -> int:
    """Index of the final consonant of a Hangul syllable (0: none; anything not Hangul counts as none)."""
    return (ord(syllable) - 0xAC00) % 28 if "가" <= syllable <= "힣" else 0


def attach_particles(text: str) -> str:
    """Keep the particle form the preceding syllable takes: 문장을, 요약을; 글로, 파이썬으로, 서울로."""
    def pick(match: re.Match) -> str:
        last, written = match.groups()
        after_coda, after_vowel = _FORMS[written]
        coda = _coda(last)
        use_coda = coda != 0 and not (written == "(으)로" and coda == _RIEUL)
        return last + (after_coda if use_coda else after_vowel)

    return _PARTICLE.sub(pick, text)


def invented_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN_SYLLABLES) for _ in range(2))


def _topic(rng: random.Random) -> str:
    base = rng.choice(TOPICS)
    if rng.random() < 0.3:
        base = f"{rng.choice(TOPIC_PREFIXES)} {base}"
    return rng.choice(TOPIC_FRAMES).format(t=base) if rng.random() < 0.45 else base


def _fill(pattern: str, rng: random.Random) -> str:
    pattern = _ALTERNATIVES.sub(lambda m: rng.choice(m.group(1).split("|")), pattern)
    label_a, label_b = rng.choice(LABELS)
    things = rng.choice(THINGS)
    if rng.random() < 0.4:
        things = f"{rng.choice(THING_ADJECTIVES)} {things}"
    goal = f"{rng.choice(GOAL_OBJECTS)}을(를) {rng.choice(GOAL_STEMS)}"
    return pattern.format(
        tone=rng.choice(TONES), tone_adv=rng.choice(TONE_ADVERBS), form=rng.choice(FORMS), topic=_topic(rng),
        topic2=_topic(rng), audience=rng.choice(AUDIENCES), count=rng.choice(COUNTS), n=rng.randint(2, 12),
        m=rng.randint(1, 99), k=rng.randint(10, 999), things=things, doc=rng.choice(DOC_KINDS), label_a=label_a,
        label_b=label_b, language=rng.choice(LANGUAGES), goal_if=goal + "려면", goal_gi=goal + "기",
        purpose=rng.choice(PURPOSES), name=invented_name(rng), relative=rng.choice(RELATIVES), job=rng.choice(JOBS),
        place=rng.choice(PLACES), programming=rng.choice(PROGRAMMING),
    )


def _target_length(rng: random.Random) -> int:
    # Eojeols, skewed like real instructions: mostly 5-15, a tail to 60 (median about 9).
    return max(3, min(60, int(rng.lognormvariate(2.2, 0.45))))


def _finish(text: str) -> str:
    return re.sub(r" {2,}", " ", attach_particles(text.replace("^", " "))).strip()


def fresh(rng: random.Random) -> str:
    """A new Korean instruction of a random template, lengthened with modifiers and follow-up sentences."""
    text = _fill(rng.choice(TEMPLATES), rng)
    if rng.random() < 0.3:
        text = _fill(rng.choice(CONTEXTS), rng) + " " + text
    target = _target_length(rng)
    while len(text.split()) < target:
        if "^" in text and rng.random() < 0.85:
            text = text.replace("^", _fill(rng.choice(MODIFIERS), rng) + " ^", 1)
        else:
            text = text + " " + _fill(rng.choice(EXTRA_SENTENCES), rng)
    return _finish(text)


def edited(text: str, rng: random.Random) -> str:
    """A light rewrite of ``text``: the near-duplicates a teacher model produces."""
    words = text.split()
    for _ in range(rng.randint(1, 3)):
        action = rng.random()
        i = rng.randrange(len(words))
        if action < 0.4 and words[i] in SWAPS:
            words[i] = SWAPS[words[i]]
        elif action < 0.6 and len(words) > 4:
            del words[i]
        elif action < 0.8:
            words.insert(i, rng.choice(FILLERS))
        else:
            words[i] = _finish(_fill(rng.choice(("{topic}을(를)", "{tone}", "{things}이(가)", "{name} 씨는")), rng))
    return " ".join(words)


def sentence(rng: random.Random) -> str:
    """One sentence of a Korean passage (inputs and outputs)."""
    text = f"{rng.choice(SUBJECTS)}은(는) {rng.choice(TAILS)} {rng.choice(OBJECTS)}을(를) {rng.choice(ACTIONS)}."
    if rng.random() < 0.3:
        text = f"{rng.choice(CONNECTIVES)} {text}"
    return attach_particles(text)
