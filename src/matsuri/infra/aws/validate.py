"""Validate an AWS request offline against botocore's service model, deeper than botocore does.

botocore checks required members, types, minimums and unknown keys before sending, but not enums,
patterns or maximum lengths, so a bad instance type or a 70-character name is only refused by AWS,
half-way through creating 2,000 instances. `plan` runs every request through `validate` first.
AWS applies a pattern to the whole value, so patterns are full-matched; the model's Java-style
classes (\\p{L}, surrogate pairs) are translated to Python's `re`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

JAVA_CLASSES = {  # inside [...] classes, as the model uses them
    r"\p{L}": r"\w",
    r"\p{N}": r"\d",
    r"\p{M}": r"\u0300-\u036F\u3099\u309A",
    r"\p{Z}": r" \u00A0\u2000-\u200A\u2028\u2029\u3000",
    r"\p{S}": r"$+<=>^`|~\u00A2-\u00A9\u00AC-\u00B1\u00B4\u00D7\u00F7\u2100-\u2BFF\U0001F000-\U0001FAFF",
    r"\p{P}": r"!-#%-*,-/:;?@\[-\]_{}\u00A1\u00A7\u00AB\u00B6\u00B7\u00BB\u00BF\u2010-\u2027\u3001-\u3003\u300C-\u300F\uFF01-\uFF0F",
    r"\p{Alnum}": r"a-zA-Z0-9",
    r"\uD800\uDC00-\uDBFF\uDFFF": r"\U00010000-\U0010FFFF",
}


@dataclass(frozen=True)
class Request:
    """One call that apply will make: service, operation and its parameters."""

    service: str
    operation: str
    params: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.service}.{self.operation}"


@lru_cache(maxsize=8)
def _model(service: str):
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


@lru_cache(maxsize=2048)
def _pattern(pattern: str) -> re.Pattern | None:
    for java, python in JAVA_CLASSES.items():
        pattern = pattern.replace(java, python)
    try:
        return re.compile(pattern, re.DOTALL)
    except re.error:  # a construct we cannot translate: left to AWS (and counted in tests)
        return None


def validate(request: Request) -> list[str]:
    """Every way the request breaks the service model, as readable lines (empty if fine)."""
    from botocore.validate import ParamValidator

    where = f"{request.service}.{request.operation}"
    try:
        shape = _model(request.service).operation_model(request.operation).input_shape
    except Exception:  # botocore raises OperationNotFoundError from its model module
        return [f"{where}: no such operation in the {request.service} service model"]
    problems = []
    report = ParamValidator().validate(request.params, shape)
    if report.has_errors():
        lines = report.generate_report().splitlines()
        problems += [f"{where}: {line.strip()}" for line in lines if line.strip()
                     and not line.startswith("Parameter validation failed")]
    _walk(shape, request.params, where, problems)
    return problems


def _walk(shape, value, path: str, problems: list[str]) -> None:
    if shape is None or value is None:
        return
    meta = shape.metadata
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        for name, member in shape.members.items():
            if name in value:
                _walk(member, value[name], f"{path}.{name}", problems)
    elif kind == "list" and isinstance(value, list | tuple):
        _bounds(len(value), meta, path, "items", problems)
        for i, item in enumerate(value):
            _walk(shape.member, item, f"{path}[{i}]", problems)
    elif kind == "map" and isinstance(value, dict):
        _bounds(len(value), meta, path, "entries", problems)
        for key, item in value.items():
            _walk(shape.key, key, f"{path} key {key!r}", problems)
            _walk(shape.value, item, f"{path}[{key!r}]", problems)
    elif kind == "string" and isinstance(value, str):
        if shape.enum and value not in shape.enum:
            shown = ", ".join(shape.enum[:8]) + (", …" if len(shape.enum) > 8 else "")
            problems.append(f"{path}: {value!r} is not one of the accepted values ({shown})")
        _bounds(len(value), meta, path, "characters", problems)
        compiled = _pattern(meta["pattern"]) if "pattern" in meta else None
        if compiled is not None and not compiled.fullmatch(value):
            shown_value = value if len(value) < 60 else value[:57] + "…"
            problems.append(f"{path}: {shown_value!r} does not match the pattern {meta['pattern']}")
    elif kind in ("integer", "long", "float", "double") and isinstance(value, int | float):
        if "min" in meta and value < meta["min"]:
            problems.append(f"{path}: {value} is below the minimum {meta['min']}")
        if "max" in meta and value > meta["max"]:
            problems.append(f"{path}: {value} is above the maximum {meta['max']}")
    elif kind == "blob" and isinstance(value, bytes | str):
        _bounds(len(value), meta, path, "bytes", problems)


def _bounds(size: int, meta: dict, path: str, unit: str, problems: list[str]) -> None:
    # botocore checks minimums itself; maximums are ours.
    if "max" in meta and size > meta["max"]:
        problems.append(f"{path}: {size} {unit}, more than the maximum {meta['max']}")


def validate_all(requests: list[Request]) -> list[str]:
    problems: list[str] = []
    for request in requests:
        problems.extend(validate(request))
    return problems
