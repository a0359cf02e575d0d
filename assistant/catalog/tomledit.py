"""Small edits to a TOML config file that keep every other line and comment:
set a ``[section] key`` or a top-level key to a string. Pure text in, text out."""

from __future__ import annotations

import re

_TABLE = re.compile(r"^\s*\[\s*([A-Za-z0-9_.-]+)\s*\]\s*(#.*)?$")
_ANY_TABLE = re.compile(r"^\s*\[")


def set_toml_keys(text: str, changes: dict[tuple[str, str], str]) -> str:
    """``text`` (a TOML document) with each ``[section] key`` set to a string
    value: an existing ``key = ...`` line in the section is replaced, else the
    key is added at the end of the section, else the section is appended.
    Comments and every other line are kept. Values are plain strings."""
    lines = text.splitlines()
    for (section, key), value in changes.items():
        new = f"{key} = {_toml_string(value)}"
        start = next(
            (i for i, ln in enumerate(lines) if (m := _TABLE.match(ln)) and m[1] == section), None
        )
        if start is None:
            if lines and lines[-1].strip():
                lines.append("")
            lines += [f"[{section}]", new]
            continue
        end = next(
            (i for i in range(start + 1, len(lines)) if _ANY_TABLE.match(lines[i])), len(lines)
        )
        key_re = re.compile(rf"^\s*{re.escape(key)}\s*=")
        hit = next((i for i in range(start + 1, end) if key_re.match(lines[i])), None)
        if hit is not None:
            lines[hit] = new
            continue
        last = max((i for i in range(start, end) if lines[i].strip()), default=start)
        lines.insert(last + 1, new)
    return "\n".join(lines) + "\n"


def _toml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


_TOP_KEY = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*=")


def set_top_level_keys(text: str, keys: dict[str, str]) -> str:
    """``text`` (a TOML document) with each top-level ``key = "value"`` set:
    replaced where it is, before the first table, else added at the top."""
    lines = text.splitlines()
    first_table = next((i for i, ln in enumerate(lines) if ln.lstrip().startswith("[")), len(lines))
    for key, value in keys.items():
        new = f'{key} = "{value}"'
        hit = next(
            (i for i in range(first_table) if (m := _TOP_KEY.match(lines[i])) and m[1] == key),
            None,
        )
        if hit is None:
            lines.insert(0, new)
            first_table += 1
        else:
            lines[hit] = new
    return "\n".join(lines) + "\n"
