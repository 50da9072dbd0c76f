import pytest

from demo_search.scoring.loglik import LoglikScorer
from demo_search.scoring.match import MatchScorer, normalize
from demo_search.types import HeldOutPrompt
from workers.tree import LeafGeneration, LeafScore, TokenCounts

COUNTS = TokenCounts(10, 10, 0)


def gen(leaf_id, text):
    return LeafGeneration("c", leaf_id, text, (), "stop", COUNTS)


PROMPTS = {
    "p1": HeldOutPrompt(id="p1", query="q", reference="Paris."),
    "p2": HeldOutPrompt(id="p2", query="q", reference="42"),
    "p3": HeldOutPrompt(id="p3", query="q", reference=None),
}


@pytest.mark.parametrize(
    ("mode", "pattern", "answer", "expected"),
    [
        ("exact", None, " Paris.\n", 1.0),
        ("exact", None, "paris", 0.0),
        ("normalized", None, "PARIS", 1.0),
        ("contains", None, "It is paris, France", 1.0),
        ("contains", None, "Lyon", 0.0),
        ("regex", r"^\s*Par", "Paris", 1.0),
        ("regex", r"the answer is {reference}", "the answer is Paris.", 1.0),
        ("regex", r"the answer is {reference}", "the answer is Parisx", 0.0),
    ],
)
def test_match_modes(mode, pattern, answer, expected):
    (ev,) = MatchScorer(mode, pattern).evaluate([gen("p1", answer)], PROMPTS)
    assert ev.score == expected and ev.output == answer and ev.error is None


def test_missing_reference_is_a_failed_evaluation_not_a_zero():
    (ev,) = MatchScorer("exact").evaluate([gen("p3", "x")], PROMPTS)
    assert ev.score is None and "no reference" in ev.error


def test_unknown_mode_is_rejected():
    with pytest.raises(ValueError, match="match mode must be one of exact, normalized, regex, contains, got 'fuzzy'"):
        MatchScorer("fuzzy")


def test_normalize():
    assert normalize("  Ｈello,   World! ") == "hello world"


def test_loglik_is_the_mean_per_reference_token():
    items = [LeafScore("c", "p1", (-1.0, -3.0), COUNTS), LeafScore("c", "p2", (), COUNTS)]
    ok, empty = LoglikScorer().evaluate(items, PROMPTS)
    assert ok.score == pytest.approx(-2.0) and ok.detail["n_tokens"] == 2
    assert empty.score is None and empty.error
