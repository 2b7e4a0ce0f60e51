"""Reading a YAML or JSON file into plain data, keeping the line of every value.

Errors are :class:`SpecError`: one paragraph naming the file, the line and the JSON path.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from workflow.errors import DiffdagError


class SpecError(DiffdagError):
    """A graph file that cannot be used: the message names the file, the place and the fix."""


class _Loader(yaml.SafeLoader):
    """YAML 1.1 safe loading, with '1e-3' read as a float (as YAML 1.2 and JSON do)."""


_Loader.yaml_implicit_resolvers = {k: list(v) for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                |\.[0-9_]+(?:[eE][-+][0-9]+)?
                |[-+]?\.(?:inf|Inf|INF)
                |\.(?:nan|NaN|NAN))$""", re.VERBOSE),
    list("-+0123456789."),
)


def json_path(path: tuple) -> str:
    """('nodes', 2, 'inputs', 'x') -> 'nodes[2].inputs.x'."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


@dataclass
class Document:
    """A file's data and the line (1-based) where each JSON path starts."""

    path: Path
    data: Any
    lines: dict[tuple, int] = field(default_factory=dict)

    def line_of(self, place: tuple) -> int | None:
        """The line of ``place``, or of its closest enclosing value that has one."""
        for end in range(len(place), -1, -1):
            if place[:end] in self.lines:
                return self.lines[place[:end]]
        return None

    def where(self, place: tuple) -> str:
        line = self.line_of(tuple(place))
        return f"{self.path}, line {line} ({json_path(tuple(place))})" if line else f"{self.path} ({json_path(tuple(place))})"

    def error(self, place: tuple, message: str, fix: str = "") -> SpecError:
        if fix and not message.endswith((".", "?", "!")):
            message += "."
        return SpecError(f"{self.where(place)}: {message}" + (f" Fix: {fix}." if fix and not fix.endswith(".") else
                                                              f" Fix: {fix}" if fix else ""))


def read_document(path: str | Path) -> Document:
    """Parse a .yaml/.yml/.json file; JSON is parsed strictly, YAML safely (no Python tags)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"{path}: no such graph file. Fix: give the path of a .yaml or .json graph file.") from None
    except (OSError, UnicodeDecodeError) as error:
        raise SpecError(f"{path}: cannot read the graph file ({error}).") from None
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise SpecError(f"{path}, line {error.lineno}, column {error.colno}: malformed JSON: {error.msg}. "
                            "Fix: check the brackets, commas and quotes there.") from None
        try:
            return Document(path, data, _lines(_compose(text)))
        except yaml.YAMLError:
            return Document(path, data)
    try:
        node = _compose(text)
        data = _construct(node)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"{path}, line {mark.line + 1}, column {mark.column + 1}" if mark else str(path)
        problem = " ".join(p for p in (error.context, error.problem) if p)
        raise SpecError(f"{where}: malformed YAML: {problem}. "
                        "Fix: check the indentation, colons and quotes there.") from None
    except yaml.YAMLError as error:
        raise SpecError(f"{path}: malformed YAML: {error}.") from None
    return Document(path, data, _lines(node))


def _compose(text: str):
    loader = _Loader(text)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


def _construct(node):
    if node is None:
        return None
    loader = _Loader("")
    try:
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _lines(node, path: tuple = (), out: dict | None = None) -> dict[tuple, int]:
    out = {} if out is None else out
    if node is None:
        return out
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = path + (key.value,)
            out[child] = key.start_mark.line + 1
            _lines(value, child, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, value in enumerate(node.value):
            _lines(value, path + (i,), out)
    return out
