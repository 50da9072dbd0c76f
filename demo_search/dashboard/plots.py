"""The search page's figures, built with Plotly and handed to the page as JSON (``Plotly.react`` draws them).

Trace names are part of the page's contract (the browser test reads them): the trajectory's ``chosen`` trace has
one point per step (x: step, y: score, ``error_y.array``: standard error, ``customdata``: runner-up margin) and
its ``runner-up`` trace the runner-up scores, and with a test split (``data.test``) its ``test`` trace the chosen
sets' test scores; the distribution's ``candidates`` and ``chosen`` traces hold every
scored candidate and the chosen ones; the tokens figure stacks ``computed`` over ``cached``.
"""

from __future__ import annotations

import json
from typing import Any

import plotly.graph_objects as go

from demo_search.dashboard.views import SearchPage

_LAYOUT = dict(template="plotly_white", height=340, margin=dict(l=60, r=20, t=40, b=40), hovermode="closest")


def figures(page: SearchPage) -> dict[str, dict[str, Any]]:
    """The page's figures by element id, as Plotly JSON (plain lists, no binary arrays)."""
    built = {"trajectory": trajectory(page), "distribution": distribution(page), "tokens": tokens(page)}
    return {key: json.loads(figure.to_json()) for key, figure in built.items()}


def trajectory(page: SearchPage) -> go.Figure:
    points = page.trajectory
    steps = [p.step for p in points]
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(
            name="chosen",
            x=steps,
            y=[p.score for p in points],
            error_y=dict(type="data", array=[p.stderr or 0.0 for p in points], visible=True),
            customdata=[p.margin for p in points],
            text=[p.item_label for p in points],
            mode="lines+markers",
            hovertemplate="step %{x}: %{y:.4f} ± %{error_y.array:.4f}<br>%{text}<br>margin %{customdata:.4f}"
            "<extra></extra>",
        )
    )
    runner_up = [p for p in points if p.runner_up_score is not None]
    figure.add_trace(
        go.Scatter(
            name="runner-up",
            x=[p.step for p in runner_up],
            y=[p.runner_up_score for p in runner_up],
            mode="markers",
            marker=dict(symbol="x", size=9),
        )
    )
    tested = [p for p in points if p.test_score is not None]
    if tested:  # the test split (data.test): never used for selection, so selection bias shows as a gap
        figure.add_trace(
            go.Scatter(
                name="test",
                x=[p.step for p in tested],
                y=[p.test_score for p in tested],
                error_y=dict(type="data", array=[p.test_stderr or 0.0 for p in tested], visible=True),
                mode="lines+markers",
                line=dict(dash="dot"),
            )
        )
    figure.update_layout(title="score per step (± standard error)", xaxis_title="step", yaxis_title="score",
                         xaxis=dict(tickmode="array", tickvals=steps), **_LAYOUT)
    return figure


def distribution(page: SearchPage) -> go.Figure:
    scored = [c for c in page.candidates if c.score is not None]
    chosen = [c for c in scored if c.chosen]
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(
            name="candidates",
            x=[c.step for c in scored],
            y=[c.score for c in scored],
            text=[c.added_label for c in scored],
            mode="markers",
            marker=dict(size=8, opacity=0.6),
            hovertemplate="step %{x}: %{y:.4f}<br>%{text}<extra></extra>",
        )
    )
    figure.add_trace(
        go.Scatter(
            name="chosen",
            x=[c.step for c in chosen],
            y=[c.score for c in chosen],
            text=[c.added_label for c in chosen],
            mode="markers",
            marker=dict(size=14, symbol="star", color="crimson"),
            hovertemplate="chosen at step %{x}: %{y:.4f}<br>%{text}<extra></extra>",
        )
    )
    figure.update_layout(title="every candidate's score per step", xaxis_title="step", yaxis_title="score",
                         **_LAYOUT)
    return figure


def tokens(page: SearchPage) -> go.Figure:
    steps = [t.step for t in page.tokens]
    figure = go.Figure()
    figure.add_trace(go.Bar(name="computed", x=steps, y=[t.computed for t in page.tokens]))
    figure.add_trace(go.Bar(name="cached", x=steps, y=[t.cached for t in page.tokens]))
    figure.update_layout(title="prompt tokens per step", barmode="stack",
                         xaxis_title="step", yaxis_title="tokens", **_LAYOUT)
    return figure
