"""Prompt templates: the URIAL prompt-file format, and a search step rendered and tokenized as prefix-tree segments.

* ``urial``: parse / render URIAL prompt files byte-identically, and the pieces of one block;
* ``base.PromptTemplate``: the interface; ``UrialTemplate`` and ``ChatTemplate`` implement it;
* ``layout``: which demonstrations go in the shared prefix and which in each branch (insertion positions, beams);
* ``step.render_step``: a step's segments as text; ``tokenization``: the same as a ``workers.tree.PrefixTree``.
"""

from demo_search.templates.base import PromptSegments, PromptTemplate, TemplateError
from demo_search.templates.chat_template import ChatTemplate
from demo_search.templates.layout import (
    INSERTION_POSITIONS,
    BranchPlan,
    InsertionPosition,
    LaidOutBranch,
    StepLayout,
    candidate_plans,
    layout_step,
    ordered_demonstrations,
)
from demo_search.templates.step import BranchText, LeafText, StepText, render_step
from demo_search.templates.tokenization import (
    build_prefix_tree,
    build_step_tree,
    count_tokens,
    encode_text,
    longest_request,
    tokenize_step,
)
from demo_search.templates.urial import UrialPrompt, load_urial, parse_urial, render_urial
from demo_search.templates.urial_template import UrialTemplate

__all__ = [
    "INSERTION_POSITIONS",
    "BranchPlan",
    "BranchText",
    "ChatTemplate",
    "InsertionPosition",
    "LaidOutBranch",
    "LeafText",
    "PromptSegments",
    "PromptTemplate",
    "StepLayout",
    "StepText",
    "TemplateError",
    "UrialPrompt",
    "UrialTemplate",
    "build_prefix_tree",
    "build_step_tree",
    "candidate_plans",
    "count_tokens",
    "encode_text",
    "layout_step",
    "load_urial",
    "longest_request",
    "ordered_demonstrations",
    "parse_urial",
    "render_step",
    "render_urial",
    "tokenize_step",
]
