"""The chat template on the byte tokenizer with small local Jinja templates (nothing downloaded)."""

from __future__ import annotations

import pytest

from demo_search.templates import (
    ChatTemplate,
    TemplateError,
    UrialTemplate,
    candidate_plans,
    layout_step,
    render_step,
)
from demo_search.types import Demonstration, HeldOutPrompt, Turn
from tests.demo_search.templates.chatml import CHATML
from workers.decoding import DecodingParams
from workers.tiny import build_byte_tokenizer

# Writes the conversation's length into the system message: a longer conversation then does not start with the
# render of a shorter one.
COUNTING = (
    "{% for m in messages %}{% if m['role'] == 'system' %}{{ '<|system|> (' + messages|length|string + ' messages)\\n' }}"
    "{% else %}{{ '<|' + m['role'] + '|>\\n' }}{% endif %}{{ m['content'] + eos_token }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}"
)
NO_SYSTEM = (
    "{% for m in messages %}{% if m['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}"
    "{{ '[' + m['role'] + '] ' + m['content'] + eos_token }}{% endfor %}{% if add_generation_prompt %}[assistant] {% endif %}"
)

DEMOS = (
    Demonstration.single("2+2?", "4"),
    Demonstration.from_turns((Turn("hi", "hello"), Turn("bye", "goodbye"))),
)
PROMPT = HeldOutPrompt.create("3+3?", reference="6", history=(Turn("first", "reply"),))


@pytest.fixture(scope="module")
def tokenizer():
    return build_byte_tokenizer()


def messages_of(rules, demos, prompt):
    messages = [{"role": "system", "content": rules}] if rules else []
    for demo in demos:
        for turn in demo.turns:
            messages += [{"role": "user", "content": turn.query}, {"role": "assistant", "content": turn.answer}]
    for turn in prompt.history:
        messages += [{"role": "user", "content": turn.query}, {"role": "assistant", "content": turn.answer}]
    return messages + [{"role": "user", "content": prompt.query}]


@pytest.mark.parametrize("rules", ["Be brief.", ""])
def test_prompt_equals_one_render_of_the_whole_conversation(tokenizer, rules):
    template = ChatTemplate(tokenizer, chat_template=CHATML)
    messages = messages_of(rules, DEMOS, PROMPT)
    expected = tokenizer.apply_chat_template(messages, chat_template=CHATML, add_generation_prompt=True, tokenize=False)
    assert template.render_prompt(rules, DEMOS, PROMPT) == expected
    with_answer = tokenizer.apply_chat_template(
        messages + [{"role": "assistant", "content": "6"}], chat_template=CHATML, tokenize=False
    )
    assert template.render_prompt(rules, DEMOS, PROMPT, with_target=True) == with_answer
    assert template.render_target(rules, DEMOS, PROMPT) == "6</s>\n"


def test_segments_are_differences_of_incremental_renders(tokenizer):
    template = ChatTemplate(tokenizer, chat_template=CHATML)
    segments = template.segments("Be brief.", DEMOS[:1], DEMOS[1:], PROMPT)
    assert segments.prefix == "<s><|system|>\nBe brief.</s>\n<|user|>\n2+2?</s>\n<|assistant|>\n4</s>\n"
    assert segments.branch == "<|user|>\nhi</s>\n<|assistant|>\nhello</s>\n<|user|>\nbye</s>\n<|assistant|>\ngoodbye</s>\n"
    assert segments.leaf == "<|user|>\nfirst</s>\n<|assistant|>\nreply</s>\n<|user|>\n3+3?</s>\n<|assistant|>\n"
    assert segments.target == "6</s>\n"


def test_tokenizer_own_chat_template_is_used(tokenizer):
    own = build_byte_tokenizer()
    own.chat_template = CHATML
    assert ChatTemplate(own).render_prompt("R", DEMOS, PROMPT) == ChatTemplate(tokenizer, CHATML).render_prompt(
        "R", DEMOS, PROMPT
    )


def test_stop_string_and_answer_extraction_come_from_the_end_of_turn(tokenizer):
    template = ChatTemplate(tokenizer, chat_template=CHATML)
    assert template.end_of_turn == "</s>\n"
    assert template.stop_strings == ("</s>",)
    assert template.extract_answer("six</s>\n") == "six"
    assert template.extract_answer("six, cut short") == "six, cut short"
    assert ChatTemplate(tokenizer, CHATML, stop_strings=["<|user|>"]).stop_strings == ("<|user|>",)


def test_a_tokenizer_without_a_chat_template_is_refused(tokenizer):
    with pytest.raises(TemplateError, match="has no chat_template"):
        ChatTemplate(tokenizer)


def test_a_template_that_is_not_incremental_is_refused(tokenizer):
    template = ChatTemplate(tokenizer, chat_template=COUNTING)
    layout = layout_step(candidate_plans(DEMOS[:1], DEMOS[1:]), (), "before_fixed")
    with pytest.raises(TemplateError, match="adding demonstrations changes the text before them") as caught:
        render_step(template, "R", layout, [PROMPT])
    assert "differ at character" in str(caught.value)
    with pytest.raises(TemplateError, match="not incremental"):
        template.render_leaf("R", DEMOS, PROMPT)


def test_a_template_that_refuses_a_system_message_says_so(tokenizer):
    template = ChatTemplate(tokenizer, chat_template=NO_SYSTEM)
    assert template.render_prompt("", DEMOS, PROMPT).endswith("[user] 3+3?</s>[assistant] ")
    with pytest.raises(TemplateError, match="System role not supported") as caught:
        template.render_context("Rules", DEMOS)
    assert "leave the rules empty" in str(caught.value)


def test_chat_step_renders_leaves_shared_by_every_branch(tokenizer):
    template = ChatTemplate(tokenizer, chat_template=CHATML)
    pool = [Demonstration.single(f"q{i}", f"a{i}") for i in range(3)]
    layout = layout_step(candidate_plans(pool[:1], pool[1:]), (), "before_fixed")
    step = render_step(template, "R", layout, [PROMPT])
    assert [b.text for b in step.branches] == ["<|user|>\nq1</s>\n<|assistant|>\na1</s>\n", "<|user|>\nq2</s>\n<|assistant|>\na2</s>\n"]
    assert step.leaves[0].prompt == template.render_leaf("R", pool, PROMPT)


def test_the_end_of_turn_token_and_eos_are_stop_token_ids():
    from tests.support.chat_model import CHATML as REAL_CHATML
    from tests.support.chat_model import IM_END, chat_tokenizer

    tokenizer = chat_tokenizer()
    template = ChatTemplate(tokenizer, chat_template=REAL_CHATML)
    im_end = tokenizer.convert_tokens_to_ids(IM_END)
    assert (template.end_of_turn, im_end, tokenizer.eos_token_id) == ("<|im_end|>\n", 260, 2)
    assert template.stop_token_ids == (im_end, tokenizer.eos_token_id)
    params = template.generation_params(DecodingParams(stop=("\n\n",), stop_token_ids=(7,)))
    assert (params.stop, params.stop_token_ids) == (("\n\n", "<|im_end|>"), (7, im_end, 2))


def test_an_end_of_turn_added_as_a_special_token_counts_too():
    tokenizer = build_byte_tokenizer()
    tokenizer.add_tokens(["<|eot_id|>"], special_tokens=True)  # special, yet not among the named special tokens
    eot = "{% for m in messages %}{{ m['role'] + ': ' + m['content'] + '<|eot_id|>' }}{% endfor %}"
    template = ChatTemplate(tokenizer, chat_template=eot + "{% if add_generation_prompt %}assistant: {% endif %}")
    assert template.stop_token_ids == (tokenizer.convert_tokens_to_ids("<|eot_id|>"), 2)


def test_an_eos_end_of_turn_and_a_plain_text_one(tokenizer):
    assert ChatTemplate(tokenizer, chat_template=CHATML).stop_token_ids == (2,)  # '</s>\n': the EOS itself
    plain = "{% for m in messages %}{{ m['role'] + ': ' + m['content'] + '\n###\n' }}{% endfor %}"
    template = ChatTemplate(tokenizer, chat_template=plain + "{% if add_generation_prompt %}assistant: {% endif %}")
    assert (template.end_of_turn, template.stop_strings, template.stop_token_ids) == ("\n###\n", ("###",), (2,))


def test_the_urial_template_declares_no_stop_token_ids():
    params = UrialTemplate().generation_params(DecodingParams())
    assert params.stop_token_ids == ()
