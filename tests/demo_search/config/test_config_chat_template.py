"""``template.chat_template``: inline Jinja or a file, read into the config as text and parsed when it loads."""

from __future__ import annotations

import yaml

from demo_search.config import compute_fingerprint, diff_fingerprints, load_config, load_config_text
from tests.demo_search.config.config_files import BASE, problems_of, write
from tests.demo_search.templates.chatml import CHATML


def chat_config(chat_template: str) -> str:
    return BASE + yaml.safe_dump({"template": {"kind": "chat", "chat_template": chat_template}}, width=1000)


def test_an_inline_template_is_kept_as_written(workspace):
    config = load_config(write(workspace, chat_config(CHATML)))
    assert config.template.chat_template == CHATML


def test_a_file_template_is_read_relative_to_the_config(workspace):
    (workspace / "templates").mkdir()
    (workspace / "templates" / "chatml.jinja").write_text(CHATML, encoding="utf-8")
    config = load_config(write(workspace, chat_config("templates/chatml.jinja")))
    assert config.template.chat_template == CHATML


def test_the_default_is_none_and_it_is_fingerprinted_by_its_text(workspace):
    (workspace / "a.jinja").write_text(CHATML, encoding="utf-8")
    assert load_config(write(workspace, BASE)).template.chat_template is None
    from_file = compute_fingerprint(load_config(write(workspace, chat_config("a.jinja"))))
    inline = compute_fingerprint(load_config(write(workspace, chat_config(CHATML))))
    assert from_file.digest == inline.digest  # where the template was written changes nothing
    edited = compute_fingerprint(load_config(write(workspace, chat_config(CHATML + "{{ '' }}"))))
    assert diff_fingerprints(inline.parts, edited) == ["template.chat_template"]


def test_a_stored_config_reloads_to_the_same_template(workspace):
    config = load_config(write(workspace, chat_config(CHATML)))
    stored = yaml.safe_dump(config.model_dump(mode="json"))
    assert load_config_text(stored, base_dir=workspace).template.chat_template == CHATML


def test_a_template_that_does_not_parse_is_refused_with_the_line(workspace):
    broken = "{% for m in messages %}\n{{ m['content'] }\n{% endfor %}"
    (problem,) = problems_of(write(workspace, chat_config(broken)))
    assert "template.chat_template: not valid Jinja (line 2: unexpected '}')" in problem


def test_a_missing_file_and_a_file_without_jinja_are_refused(workspace):
    (problem,) = problems_of(write(workspace, chat_config("nowhere.jinja")))
    assert problem.endswith(f"template.chat_template: file not found: {workspace / 'nowhere.jinja'}")
    (workspace / "plain.txt").write_text("just text\n", encoding="utf-8")
    (problem,) = problems_of(write(workspace, chat_config("plain.txt")))
    assert f"{workspace / 'plain.txt'} holds no Jinja tag ({{{{ or {{%)" in problem


def test_the_generation_block_of_transformers_templates_parses(workspace):
    text = "{% for m in messages %}{% generation %}{{ m['content'] }}{% endgeneration %}{% endfor %}"
    assert load_config(write(workspace, chat_config(text))).template.chat_template == text


def test_a_chat_template_needs_the_chat_kind(workspace):
    text = BASE + yaml.safe_dump({"template": {"chat_template": CHATML}}, width=1000)
    (problem,) = problems_of(write(workspace, text))
    assert "template.chat_template is set but template.kind is 'urial'" in problem
