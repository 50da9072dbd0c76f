"""A search step as text segments: layouts per insertion position, and prefix + branch + leaf == the full prompt."""

from __future__ import annotations

import pytest

from demo_search.templates import (
    INSERTION_POSITIONS,
    BranchPlan,
    ChatTemplate,
    PromptTemplate,
    TemplateError,
    UrialTemplate,
    candidate_plans,
    layout_step,
    load_urial,
    ordered_demonstrations,
    render_step,
    render_urial,
)
from demo_search.templates.urial import URIAL_STOP, UrialPrompt, query_header
from demo_search.types import Demonstration, HeldOutPrompt, Turn
from tests.demo_search.templates.chatml import CHATML
from tests.paper_data import PAPER_DATA
from workers.tiny import build_byte_tokenizer

RULES = "# Instruction\n\nAnswer like the examples. "
POOL = tuple(Demonstration.single(f"query {i} é", f"answer {i}\n```python\nx = {i}\n```\n") for i in range(6))
FIXED = tuple(Demonstration.single(f"fixed {i}", f"fixed answer {i} ") for i in range(3))
PROMPTS = (
    HeldOutPrompt.create("held out one?", reference="reference one"),
    HeldOutPrompt.create("held out two", history=(Turn("earlier q", "earlier a"),)),
)


def chat_template() -> ChatTemplate:
    return ChatTemplate(build_byte_tokenizer(), chat_template=CHATML)


TEMPLATES = {"urial": UrialTemplate, "chat": chat_template}


@pytest.fixture(params=sorted(TEMPLATES))
def template(request) -> PromptTemplate:
    return TEMPLATES[request.param]()


def test_ordered_demonstrations_follow_the_insertion_position():
    selected, added = POOL[:2], POOL[2:3]
    assert ordered_demonstrations(selected, added, FIXED, "before_fixed") == (*selected, *added, *FIXED)
    assert ordered_demonstrations(selected, added, FIXED, "after_fixed") == (*FIXED, *selected, *added)
    with pytest.raises(ValueError, match="before_fixed, after_fixed"):
        ordered_demonstrations(selected, added, FIXED, "middle")


@pytest.mark.parametrize("position", INSERTION_POSITIONS)
def test_greedy_layout_shares_rules_selected_and_leading_fixed(position):
    selected, candidates = POOL[:2], POOL[2:5]
    layout = layout_step(candidate_plans(selected, candidates), FIXED, position)
    assert [b.branch_id for b in layout.branches] == [c.id for c in candidates]
    if position == "before_fixed":
        assert layout.prefix == selected
        assert [b.demonstrations for b in layout.branches] == [(c, *FIXED) for c in candidates]
    else:
        assert layout.prefix == (*FIXED, *selected)
        assert [b.demonstrations for b in layout.branches] == [(c,) for c in candidates]
    for branch, candidate in zip(layout.branches, candidates):
        assert layout.demonstrations(branch) == ordered_demonstrations(selected, (candidate,), FIXED, position)


def test_a_single_candidate_stays_in_its_branch():
    layout = layout_step(candidate_plans(POOL[:2], POOL[2:3]), FIXED, "before_fixed")
    assert layout.prefix == POOL[:2]
    assert layout.branches[0].demonstrations == (POOL[2], *FIXED)


@pytest.mark.parametrize("position", INSERTION_POSITIONS)
def test_beam_layout_shares_the_common_run_of_the_beams(position):
    beams = ((POOL[0], POOL[1]), (POOL[0], POOL[2]))
    plans = [BranchPlan(f"beam{i}+{c.id}", beam, (c,)) for i, beam in enumerate(beams) for c in POOL[3:5]]
    layout = layout_step(plans, FIXED, position)
    assert layout.prefix == ((POOL[0],) if position == "before_fixed" else (*FIXED, POOL[0]))
    for plan, branch in zip(plans, layout.branches):
        assert branch.branch_id == plan.branch_id
        assert layout.demonstrations(branch) == ordered_demonstrations(plan.selected, plan.added, FIXED, position)


def test_layout_needs_a_plan():
    with pytest.raises(ValueError, match="at least one branch plan"):
        layout_step([], FIXED, "before_fixed")


@pytest.mark.parametrize("position", INSERTION_POSITIONS)
def test_step_segments_join_to_every_full_prompt(template: PromptTemplate, position):
    selected, candidates = POOL[:2], POOL[2:5]
    layout = layout_step(candidate_plans(selected, candidates), FIXED, position)
    step = render_step(template, RULES, layout, PROMPTS)
    assert [leaf.leaf_id for leaf in step.leaves] == [p.id for p in PROMPTS]
    assert step.leaves[0].target is not None and step.leaves[1].target is None
    for laid_out, branch, candidate in zip(layout.branches, step.branches, candidates):
        demos = ordered_demonstrations(selected, (candidate,), FIXED, position)
        for leaf, prompt in zip(step.leaves, PROMPTS):
            segments = template.segments(RULES, layout.prefix, laid_out.demonstrations, prompt)
            assert (segments.prefix, segments.branch, segments.leaf, segments.target) == (
                step.prefix,
                branch.text,
                leaf.prompt,
                leaf.target,
            )
            for with_target in (False, True):
                joined = step.prompt_text(branch, leaf, with_target=with_target)
                assert joined == template.render_prompt(RULES, demos, prompt, with_target=with_target)
                assert joined == segments.text(with_target=with_target)


def test_urial_prompt_text_is_the_urial_file_layout():
    template = UrialTemplate()
    demos = POOL[:2]
    prompt = HeldOutPrompt.create("held out", reference="ref")
    file_text = render_urial(UrialPrompt(RULES, demos))
    assert template.render_context(RULES, demos) == file_text[:-1] + "\n\n"
    assert template.render_prompt(RULES, demos, prompt, with_target=True) == file_text[:-1] + "\n\n" + query_header(
        "held out"
    ) + "ref\n```"
    assert template.render_context("", ()) == ""
    assert template.stop_strings == (URIAL_STOP,)


def test_urial_leaf_renders_earlier_turns_as_blocks():
    leaf = UrialTemplate().render_leaf(RULES, (), PROMPTS[1])
    assert leaf == "# Query:\n```\nearlier q\n```\n\n# Answer:\n```\nearlier a\n```\n\n" + query_header("held out two")


@pytest.mark.parametrize("position", INSERTION_POSITIONS)
def test_urial_file_serves_as_rules_and_fixed_demonstrations(position):
    base = load_urial(PAPER_DATA / "urial.txt")
    template = UrialTemplate()
    layout = layout_step(candidate_plans((), POOL[:2]), base.demonstrations, position)
    step = render_step(template, base.rules, layout, PROMPTS[:1])
    file_body = render_urial(base)[:-1] + "\n\n"
    full = step.prompt_text(step.branches[0], step.leaves[0], with_target=False)
    if position == "after_fixed":
        assert step.prefix == file_body
    else:
        assert step.prefix == base.rules + "\n\n"
        assert full.endswith(file_body[len(base.rules) + 2 :] + query_header(PROMPTS[0].query))
    assert full == template.render_prompt(
        base.rules, ordered_demonstrations((), POOL[:1], base.demonstrations, position), PROMPTS[0]
    )


class _LeafNumberingTemplate(UrialTemplate):
    """A template whose leaf depends on the demonstrations before it (it numbers the query)."""

    def render_leaf(self, rules, demonstrations, prompt):
        return f"[{len(demonstrations)}] " + super().render_leaf(rules, demonstrations, prompt)


class _ReorderingTemplate(UrialTemplate):
    """A template that puts the last demonstration first, so a longer context does not extend a shorter one."""

    def render_context(self, rules, demonstrations):
        return super().render_context(rules, [*demonstrations[-1:], *demonstrations[:-1]])


def test_a_leaf_that_depends_on_the_branch_is_refused():
    plans = [BranchPlan("short", (), POOL[:1]), BranchPlan("long", (), POOL[1:3])]
    with pytest.raises(TemplateError, match="depends on the demonstrations before it") as caught:
        render_step(_LeafNumberingTemplate(), RULES, layout_step(plans, (), "before_fixed"), PROMPTS)
    assert "after branch 'long'" in str(caught.value)


def test_a_context_that_is_not_extended_by_new_demonstrations_is_refused():
    layout = layout_step(candidate_plans(POOL[:2], POOL[2:3]), (), "before_fixed")
    with pytest.raises(TemplateError, match="changes the text before them") as caught:
        render_step(_ReorderingTemplate(), RULES, layout, PROMPTS)
    assert POOL[2].id in str(caught.value)
