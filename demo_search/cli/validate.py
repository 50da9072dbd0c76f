"""``demo-search validate CONFIG``: load the configuration and the data, report, write nothing."""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.table import Table

from demo_search.cli.console import console, err_console
from demo_search.cli.failures import EXIT_FAILED, reported_failures
from demo_search.cli.options import ConfigArg, DbOption, SetOption
from demo_search.config import SearchConfig, load_config, shortcut_overrides
from demo_search.config.database import store_refusal
from demo_search.data import summarize_lengths
from demo_search.inputs import SearchInputs, load_inputs, load_tokenizer
from demo_search.model_limits import resolve_context_window
from demo_search.templates.tokenization import count_tokens


def validate(config_path: ConfigArg, overrides: SetOption = None, db: DbOption = None) -> None:
    """Check a configuration, its model's tokenizer and config, its data and its database URL (as `run` would use
    them): counts, token lengths, the context window and every problem found. Writes nothing."""
    with reported_failures():
        config = load_config(config_path, [*(overrides or ()), *shortcut_overrides(db=db)])
    check_search(config)


def check_search(config: SearchConfig) -> None:
    """What ``validate`` (and ``run --dry-run``) reports of a loaded configuration: its inputs, their problems
    and the search's projected cost; exit 1 when something is wrong. Writes nothing."""
    with reported_failures():
        from demo_search.scoring.custom import identify_custom_scorer

        config = identify_custom_scorer(config)  # a custom scorer's function must be registered
        tokenizer = load_tokenizer(config)
        window = resolve_context_window(config)
        inputs = load_inputs(config, tokenizer=tokenizer)
        if tokenizer is not None:  # the prompt template must be buildable (a chat template renders a probe turn)
            from demo_search.assembly import build_template

            build_template(config, tokenizer)

    def counter(text: str) -> int:
        return count_tokens(tokenizer, text)

    console.print(f"[bold]search[/] {config.name}: {config.strategy.kind} search, scorer {config.scorer.kind}, "
                  f"engine {config.model.engine}, template {config.template.kind} ({config.template.position})")
    table = Table(title="inputs", show_edge=False)
    for column in ("", "items", "duplicates", "format", "tokens min", "mean", "median", "max"):
        table.add_column(column, justify="left" if not column else "right")
    rows = [
        ("candidates", inputs.candidates, inputs.pool.duplicates_dropped, inputs.pool.format),
        ("held-out", inputs.heldout.items, inputs.heldout.duplicates_dropped, inputs.heldout.format),
        ("fixed", inputs.fixed, 0, "-"),
        *([("test", inputs.test.items, inputs.test.duplicates_dropped, inputs.test.format)] if inputs.test else []),
    ]
    for label, items, dropped, fmt in rows:
        stats = summarize_lengths(items, counter)
        numbers = (
            (str(stats.min), f"{stats.mean:.1f}", f"{stats.median:.1f}", str(stats.max)) if stats else ("-",) * 4
        )
        table.add_row(label, str(len(items)), str(dropped), fmt or "-", *numbers)
    console.print(table)
    console.print(f"rules: {counter(inputs.rules)} tokens")
    console.print(f"context window: {window.tokens} tokens ({escape(window.source)})", highlight=False)

    for problem in inputs.problems:
        style = "red" if problem.is_error else "yellow"
        err_console.print(f"[{style}]{problem}[/]", markup=True, highlight=False)
    if not inputs.errors and tokenizer is not None:
        show_projection(config, inputs, window.tokens)
    refusal = store_refusal(config.database.url)
    if refusal is not None:
        err_console.print(f"[red]database.url {escape(refusal)}[/]", highlight=False)
    errors = len(inputs.errors) + (refusal is not None)
    if errors:
        err_console.print(f"[bold red]{errors} error(s)[/]")
        raise typer.Exit(EXIT_FAILED)
    console.print("[green]ok[/]: configuration and data are valid")


def show_projection(config: SearchConfig, inputs: SearchInputs, max_context: int) -> None:
    """Warn about every pool item that cannot fit the context window even alone (found by the rule the driver
    applies, with its token count: the search skips it), then print the search's projected cost."""
    from demo_search.assembly import build_problem
    from demo_search.cli.costs import projected_cost, projection_table, raced_floor

    problem = build_problem(config, inputs, max_context)
    generates = config.scorer.generates
    too_long = problem.too_long_alone(with_targets=not generates,
                                      max_new_tokens=config.decoding.max_tokens if generates else 0)
    for item_id, reason in too_long.items():
        line = (f"{problem.demos_by_id[item_id].source or item_id}: pool item {item_id[:16]} does not fit: {reason}; "
                "the search will skip it")
        err_console.print(f"[yellow]{escape(line)}[/]", highlight=False)
    projection = projected_cost(config, problem, list(too_long))
    console.print(projection_table(projection, judged=config.scorer.kind == "judge", generates=generates,
                                   raced=raced_floor(config, projection)))
