"""``template.chat_template``: a Jinja chat template written inline or in a file, read and parsed at validation.

A value holding a Jinja tag (``{{`` or ``{%``) is the template itself; any other value is a path (relative to
the config file's directory, like every path of the config) to a file holding one. Either way the validated
value is the template's text, so a stored configuration carries the template (and its fingerprint covers the
text, not where it was written). The text is parsed here, with the loop controls and the ``{% generation %}``
block that transformers' chat templates may use, so a syntax error is reported at the key before a model loads;
whether it renders a conversation is checked when the prompt template is built (``ChatTemplate`` renders a probe
turn, which ``demo-search validate`` does).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationInfo
from pydantic_core import PydanticCustomError

from demo_search.config.paths import existing_file

_JINJA_TAGS = ("{{", "{%")


def is_inline_template(value: str) -> bool:
    """Whether ``value`` is Jinja text rather than a file path (it holds ``{{`` or ``{%``)."""
    return any(tag in value for tag in _JINJA_TAGS)


def chat_template_text(value: str, info: ValidationInfo) -> str:
    """The template text of an inline template or of the file ``value`` names, checked to parse as Jinja."""
    if is_inline_template(value):
        text = value
    else:
        path = Path(existing_file(value, info))
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise PydanticCustomError(
                "chat_template_unreadable", "cannot read {path}: {reason}", {"path": str(path), "reason": str(error)}
            ) from None
        if not is_inline_template(text):
            raise PydanticCustomError(
                "not_a_chat_template",
                "{path} holds no Jinja tag ({{ or {%); a chat template renders the messages with them",
                {"path": str(path)},
            )
    problem = jinja_syntax_problem(text)
    if problem is not None:
        raise PydanticCustomError("invalid_chat_template", "not valid Jinja ({problem})", {"problem": problem})
    return text


def jinja_syntax_problem(text: str) -> str | None:
    """``"line 3: unexpected '}'"`` when ``text`` does not parse as a chat template, else ``None``."""
    from jinja2 import TemplateSyntaxError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    environment = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols", _generation_block()]
    )
    try:
        environment.parse(text)
    except TemplateSyntaxError as error:
        return f"line {error.lineno}: {error.message}"
    return None


def _generation_block() -> Any:
    """A parse-only extension for the ``{% generation %} ... {% endgeneration %}`` block of transformers' chat
    templates (it marks assistant tokens; its body renders as is)."""
    from jinja2 import nodes
    from jinja2.ext import Extension

    class GenerationBlock(Extension):
        tags = {"generation"}

        def parse(self, parser: Any) -> Any:
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
            return nodes.Scope(body, lineno=lineno)

    return GenerationBlock


__all__ = ["chat_template_text", "is_inline_template", "jinja_syntax_problem"]
