"""The notebook-instance lifecycle configuration: on-create and on-start scripts from infra/sagemaker.

AWS takes each script base64-encoded, at most 16,384 characters after encoding, and stops it after
5 minutes; `render` refuses a script over the size limit, and on-create backgrounds its installs.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

from matsuri import paths
from matsuri.errors import NotFound, UsageError

MAX_CHARS = 16_384  # per script, base64-encoded (NotebookInstanceLifecycleConfigContent)


def folder() -> Path:
    return paths.project_root() / "infra" / "sagemaker" / "lifecycle"


@dataclass(frozen=True)
class Scripts:
    on_create: str
    on_start: str

    @staticmethod
    def encode(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    def hooks(self) -> dict:
        return {"OnCreate": [{"Content": self.encode(self.on_create)}],
                "OnStart": [{"Content": self.encode(self.on_start)}]}


def _read(name: str) -> str:
    path = folder() / name
    if not path.is_file():
        raise NotFound(f"Lifecycle template {path} is missing; restore infra/sagemaker/lifecycle/.")
    return path.read_text(encoding="utf-8")


def _fill(template: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        template = template.replace(f"@@{key}@@", value)
    return template


def render(settings, language: str = "") -> Scripts:
    """Both scripts filled in with the event's settings and the language of the participants they
    are for ("": the course's), each checked against AWS's size limit."""
    sm = settings.sagemaker
    values = {"EVENT_ID": settings.event.id, "BUCKET": settings.bucket, "COURSE": settings.event.course,
              "LANGUAGE": language,
              "KIT_SPEC": settings.kit_spec, "PIP_INDEX_URL": sm.pip_index_url,
              "IDLE_SECONDS": str(sm.idle_minutes * 60), "AUTOSTOP_PY": _read("autostop.py").rstrip()}
    scripts = Scripts(_fill(_read("on-create.sh"), values), _fill(_read("on-start.sh"), values))
    for name, text in (("on-create", scripts.on_create), ("on-start", scripts.on_start)):
        if "@@" in text:
            raise UsageError(f"The {name} script still has a placeholder: {text[text.index('@@'):][:30]}")
        size = len(Scripts.encode(text))
        if size > MAX_CHARS:
            raise UsageError(f"The {name} script is {size:,} characters once base64-encoded; AWS accepts "
                             f"at most {MAX_CHARS:,}. Shorten infra/sagemaker/lifecycle/{name}.sh.")
    return scripts
