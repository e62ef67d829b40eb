"""Comment-preserving textual edits of YAML (params.yaml, deploy records): `set_key` replaces one dotted
key's value in place, every other line (comments included) stays as it was; `scalar` / `flow` write values.

Pure: text in, text out. Block mappings only (the files it edits are written that way).
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import yaml

from mlops.params import ParamsError

_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_./+-]*$")


def scalar(value: Any) -> str:
    """One YAML flow scalar: plain when it reads back as the same string, else a JSON (double-quoted) one."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return np.format_float_positional(value, trim="-")
    text = str(value)
    if _PLAIN.match(text) and yaml.safe_load(text) == text:
        return text
    return json.dumps(text, ensure_ascii=False)


def flow(value: Any) -> str:
    """A value in YAML flow style: [a, b], {k: v}, or a scalar."""
    if isinstance(value, list | tuple):
        return "[" + ", ".join(flow(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{scalar(k)}: {flow(v)}" for k, v in value.items()) + "}"
    return scalar(value)


_KEY = re.compile(r"^(?P<indent> *)(?P<key>[^\s#:'\"-][^:#]*?):(?P<rest>(\s.*)?)$")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _content(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def _block_end(lines: list[str], start: int) -> int:
    """The line after `start`'s block: the next non-blank line (comments too) indented no deeper."""
    indent, end = _indent(lines[start]), start + 1
    while end < len(lines) and (not lines[end].strip() or _indent(lines[end]) > indent):
        end += 1
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1
    return end


def _find(lines: list[str], key: str) -> int | None:
    low, high = 0, len(lines)
    found = None
    for part in key.split("."):
        depth = min((_indent(line) for line in lines[low:high] if _content(line)), default=-1)
        found = next(
            (
                i
                for i in range(low, high)
                if _indent(lines[i]) == depth and (m := _KEY.match(lines[i])) and m["key"] == part
            ),
            None,
        )
        if found is None:
            return None
        low, high = found + 1, _block_end(lines, found)
    return found


def _split_comment(rest: str) -> tuple[str, str]:
    """A key line's value and its trailing comment (a `#` after a blank, outside quotes)."""
    quote = None
    for i, char in enumerate(rest):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or rest[i - 1] in " \t"):
            return rest[:i], rest[i:]
    return rest, ""


def set_key(text: str, key: str, value: str, comment: str | None = None) -> str:
    """`key` (dotted, block mappings) set to the flow-style `value`: its old value, nested lines included,
    goes; its line's comment stays (aligned as it was) unless `comment` replaces it; other lines stay."""
    lines = text.split("\n")
    at = _find(lines, key)
    if at is None:
        raise ParamsError(f"no `{key}` key to set")
    match = _KEY.match(lines[at])
    assert match is not None
    old_value, old_comment = _split_comment(match["rest"])
    head = f"{match['indent']}{match['key']}: {value}"
    if comment is not None:
        head += f"  # {comment}"
    elif old_comment:
        column = len(match["indent"]) + len(match["key"]) + 1 + len(old_value)
        head = f"{head:<{column}}" if len(head) < column else head + "  "
        head += old_comment
    return "\n".join([*lines[:at], head, *lines[_block_end(lines, at) :]])


def set_keys(text: str, edits: dict[str, tuple[Any, str | None]]) -> str:
    for key, (value, comment) in edits.items():
        text = set_key(text, key, flow(value), comment)
    return text
