"""YAML loading that remembers where every value stands, for file:line:col errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from factory.errors import RecipeError

Position = tuple[int, int]  # 1-based line, column


class PositionedYAML:
    """Parsed YAML data plus the position of each key path in the source text."""

    def __init__(self, data: Any, positions: dict[tuple, Position], value_positions: dict[tuple, Position], source: str):
        self.data = data
        self.positions = positions  # where each key stands
        self.value_positions = value_positions  # where each value starts
        self.source = source

    def position(self, path: tuple, value: bool = False) -> Position:
        """Nearest known position for ``path`` (its value's, when ``value``), walking up when unknown."""
        path = tuple(path)
        if value and path in self.value_positions:
            return self.value_positions[path]
        while path:
            if path in self.positions:
                return self.positions[path]
            path = path[:-1]
        return self.positions.get((), (1, 1))


def _walk(node: yaml.Node, path: tuple, positions: dict[tuple, Position], values: dict[tuple, Position]) -> None:
    positions.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
    values[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            positions[path + (key,)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            _walk(value_node, path + (key,), positions, values)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, path + (index,), positions, values)


def load_yaml(path: str | Path, text: str | None = None) -> PositionedYAML:
    """Load YAML from ``path``; syntax errors become ``file:line:col: message`` RecipeErrors."""
    path = Path(path)
    if text is None:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise RecipeError([f"{path}: file not found"]) from None
        except UnicodeDecodeError:
            raise RecipeError([f"{path}: not UTF-8 text"]) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        raise RecipeError([f"{path}:{line}:{col}: YAML syntax error: {problem}"]) from None
    except yaml.YAMLError as exc:
        raise RecipeError([f"{path}:1:1: YAML error: {exc}"]) from None
    positions: dict[tuple, Position] = {}
    values: dict[tuple, Position] = {}
    if node is not None:
        _walk(node, (), positions, values)
    return PositionedYAML(data, positions, values, text)
