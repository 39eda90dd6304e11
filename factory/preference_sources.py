"""Whole-file source formats of human preference data: StackExchange-style votes and OpenAssistant trees.

``votes`` (StackLLaMA): one JSON object a line, a question with its answers and their votes::

    {"qid": 12, "question": "How do I ...?", "answers": [{"text": "...", "votes": 14, "accepted": true}, ...]}

(``text`` may be ``body``; ``votes`` may be ``score``; a precomputed ``pm_score``, as in
HuggingFaceH4/stack-exchange-preferences, is used as it is). Each answer is scored as StackLLaMA did:
``round(log2(1 + votes))``, -1 for negative votes, plus one for the accepted answer. Every two answers of a
question with different scores make a pair, the higher score chosen; at most :data:`MAX_PAIRS_PER_QUESTION`
pairs a question (the widest score gaps first), so a question with many answers does not dominate.

``oasst`` (OpenAssistant): the message export, one message a line, with ``message_id``, ``parent_id`` (null at
a tree's root), ``role`` (``prompter`` or ``assistant``), ``text`` and ``rank`` (0 best among siblings; null
when unranked); ``deleted`` messages and those with ``review_result: false`` are left out. At each branching
point with ranked assistant replies, every two ranked replies make a pair (better rank chosen, capped like
votes), the prompt being the conversation up to that point. ``oasst-sft`` reads the same file into the best
path of each tree (at each step the best-ranked reply, or the only one) as an SFT conversation.

Bad input names the file and line in one line (:class:`~factory.errors.UserError`).
"""

from __future__ import annotations

import math
from itertools import combinations
from pathlib import Path
from typing import Any

from factory.errors import UserError
from factory.formats import register_file_format
from factory.records import Record, iter_json_lines, message

MAX_PAIRS_PER_QUESTION = 10
OASST_ROLES = {"prompter": "user", "assistant": "assistant"}


# ---------------------------------------------------------------- votes

def vote_score(votes: int, accepted: bool = False) -> int:
    """StackLLaMA's answer score: round(log2(1 + votes)), -1 for negative votes, +1 for the accepted answer."""
    base = -1 if votes < 0 else round(math.log2(1 + votes))
    return base + (1 if accepted else 0)


def _answer(path: Path, lineno: int, index: int, item: Any) -> tuple[str, float]:
    where = f"{path}:{lineno}: answers[{index}]"
    if not isinstance(item, dict):
        raise UserError(f"{where}: expected an object with text and votes")
    text = item.get("text", item.get("body"))
    if not isinstance(text, str) or not text.strip():
        raise UserError(f"{where}: needs a non-empty 'text'")
    if isinstance(item.get("pm_score"), (int, float)):
        return text.strip(), float(item["pm_score"])
    votes = item.get("votes", item.get("score"))
    if not isinstance(votes, int) or isinstance(votes, bool):
        raise UserError(f"{where}: needs an integer 'votes' (or a 'pm_score')")
    return text.strip(), float(vote_score(votes, bool(item.get("accepted", item.get("selected", False)))))


def ranked_pairs(scored: list[tuple[str, float]], cap: int = MAX_PAIRS_PER_QUESTION) -> list[tuple[int, int]]:
    """Index pairs (better, worse) of items with different scores, widest gap first, at most ``cap``."""
    pairs = [(i, j) if scored[i][1] > scored[j][1] else (j, i)
             for i, j in combinations(range(len(scored)), 2) if scored[i][1] != scored[j][1]]
    pairs.sort(key=lambda p: (-(scored[p[0]][1] - scored[p[1]][1]), p))
    return pairs[:cap]


def load_votes(path: Path) -> list[Record]:
    records: list[Record] = []
    for lineno, row in iter_json_lines(path):
        question = row.get("question")
        if not isinstance(question, str) or not question.strip():
            raise UserError(f"{path}:{lineno}: needs a non-empty 'question'")
        answers = row.get("answers")
        if not isinstance(answers, list):
            raise UserError(f"{path}:{lineno}: 'answers' must be a list of {{text, votes}} objects")
        scored = [_answer(path, lineno, i, a) for i, a in enumerate(answers)]
        qid = str(row.get("qid", row.get("id", lineno)))
        for n, (better, worse) in enumerate(ranked_pairs(scored)):
            (chosen, chosen_score), (rejected, rejected_score) = scored[better], scored[worse]
            records.append(Record([message("user", question.strip())], id=f"votes-{qid}-{n}", chosen=chosen,
                                  rejected=rejected, score=chosen_score - rejected_score,
                                  meta={"prompt_id": qid, "preference": {
                                      "method": "votes", "margin": chosen_score - rejected_score,
                                      "chosen": {"answer": better, "score": chosen_score},
                                      "rejected": {"answer": worse, "score": rejected_score}}}))
    return records


# ---------------------------------------------------------------- OpenAssistant trees

class _Node:
    __slots__ = ("id", "parent", "role", "text", "rank", "children")

    def __init__(self, id: str, parent: str | None, role: str, text: str, rank: int | None):
        self.id, self.parent, self.role, self.text, self.rank = id, parent, role, text, rank
        self.children: list[_Node] = []


def _oasst_nodes(path: Path) -> list[_Node]:
    """The trees' roots, children in file order; deleted or review-failed messages (and what hangs below) out."""
    nodes: dict[str, _Node] = {}
    order: list[_Node] = []
    for lineno, row in iter_json_lines(path):
        if row.get("deleted") or row.get("review_result") is False:
            continue
        mid, role, text = row.get("message_id"), row.get("role"), row.get("text")
        if not isinstance(mid, str) or not mid:
            raise UserError(f"{path}:{lineno}: needs a string 'message_id'")
        if role not in OASST_ROLES:
            raise UserError(f"{path}:{lineno}: role must be prompter or assistant, got {role!r}")
        if not isinstance(text, str):
            raise UserError(f"{path}:{lineno}: needs a string 'text'")
        rank = row.get("rank")
        if rank is not None and (not isinstance(rank, int) or isinstance(rank, bool)):
            raise UserError(f"{path}:{lineno}: 'rank' must be an integer or null")
        parent = row.get("parent_id")
        node = _Node(mid, parent if isinstance(parent, str) and parent else None, OASST_ROLES[role], text.strip(), rank)
        nodes[mid] = node
        order.append(node)
    roots = []
    for node in order:
        if node.parent is None:
            roots.append(node)
        elif node.parent in nodes:
            nodes[node.parent].children.append(node)
    return roots


def _best(children: list[_Node]) -> _Node | None:
    ranked = [c for c in children if c.rank is not None]
    if ranked:
        return min(ranked, key=lambda c: c.rank)
    return children[0] if len(children) == 1 else None


def load_oasst(path: Path) -> list[Record]:
    records: list[Record] = []

    def walk(node: _Node, history: list[dict[str, str]]) -> None:
        turns = history + [message(node.role, node.text)]
        ranked = [c for c in node.children if c.role == "assistant" and c.rank is not None and c.text]
        if node.role == "user" and len(ranked) >= 2:
            scored = [(c.text, -float(c.rank)) for c in ranked]  # a lower rank is better
            for better, worse in ranked_pairs(scored):
                records.append(Record([dict(t) for t in turns], id=f"oasst-{node.id}-{len(records)}",
                                      chosen=ranked[better].text, rejected=ranked[worse].text,
                                      score=float(ranked[worse].rank - ranked[better].rank),
                                      meta={"prompt_id": node.id, "preference": {
                                          "method": "oasst", "margin": float(ranked[worse].rank - ranked[better].rank),
                                          "chosen": {"message_id": ranked[better].id, "rank": ranked[better].rank},
                                          "rejected": {"message_id": ranked[worse].id, "rank": ranked[worse].rank}}}))
        for child in node.children:
            walk(child, turns)

    for root in _oasst_nodes(path):
        if root.role == "user":
            walk(root, [])
    return records


def load_oasst_sft(path: Path) -> list[Record]:
    """The best path of each tree, ending on an assistant turn."""
    records = []
    for root in _oasst_nodes(path):
        if root.role != "user":
            continue
        turns, node = [message(root.role, root.text)], root
        while (node := _best(node.children)) is not None:
            turns.append(message(node.role, node.text))
        while turns and turns[-1]["role"] != "assistant":
            turns.pop()
        if turns:
            records.append(Record(turns, id=f"oasst-{root.id}", meta={"tree": root.id}))
    return records


register_file_format("votes", load_votes)
register_file_format("oasst", load_oasst)
register_file_format("oasst-sft", load_oasst_sft)
