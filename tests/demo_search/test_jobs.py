"""``plan_job``: what ``demo-search submit`` sends to Ray's job server (no cluster needed; the real submission is
tested on a multi-node cluster in ``tests/demo_search/search/test_cluster_job.py``)."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from demo_search.config import load_config
from demo_search.jobs import DEFAULT_DASHBOARD, JobError, dashboard_address, parse_resources, plan_job
from tests.support import harness

SECRET_URL = "postgresql+psycopg://user:s3cret@db:5432/searches"


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    files = harness.write_search_data(tmp_path / "work" / "data", harness.random_model_dir(tmp_path))
    return harness.write_config(tmp_path / "work" / "search.yaml", files, name="s", db=tmp_path / "x.db")


def test_the_entrypoint_runs_the_config_relative_to_the_uploaded_directory_with_the_url_in_the_env(config_path):
    config = load_config(config_path)
    request = plan_job(config_path, config, overrides=["strategy.max_steps=2"], name="n2", workers="auto",
                       db=SECRET_URL, entrypoint_num_cpus=1)
    assert shlex.split(request.entrypoint) == [
        "demo-search", "run", "search.yaml", "--address", "auto", "--set", "strategy.max_steps=2",
        "--name", "n2", "--workers", "auto",
    ]
    assert request.runtime_env() == {"working_dir": str(config_path.parent), "env_vars": {"DEMO_SEARCH_DB": SECRET_URL}}
    assert (request.search_name, request.entrypoint_num_cpus) == ("n2", 1)


def test_a_database_url_given_with_set_also_travels_in_the_env_never_in_the_entrypoint(config_path):
    request = plan_job(config_path, load_config(config_path), overrides=[f"database.url={SECRET_URL}"])
    assert "s3cret" not in request.entrypoint
    assert request.env_vars == {"DEMO_SEARCH_DB": SECRET_URL}


def test_a_relative_sqlite_database_is_refused_it_would_live_in_the_jobs_temporary_directory(config_path):
    with pytest.raises(JobError) as caught:
        plan_job(config_path, load_config(config_path), db="sqlite:///searches.db")
    assert "relative SQLite path" in str(caught.value) and "use PostgreSQL or an absolute path" in str(caught.value)


def test_a_config_outside_the_working_directory_is_refused_naming_both(config_path, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with pytest.raises(JobError) as caught:
        plan_job(config_path, load_config(config_path), working_dir=elsewhere)
    message = str(caught.value)
    assert str(config_path) in message and str(elsewhere) in message and "--working-dir" in message


def test_the_job_server_address_comes_from_the_option_then_an_http_ray_address(monkeypatch):
    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.1:6379")  # a GCS address, not a job server: ignored
    assert dashboard_address(None) == DEFAULT_DASHBOARD
    monkeypatch.setenv("RAY_ADDRESS", "http://head:8265")
    assert dashboard_address(None) == "http://head:8265"
    assert dashboard_address("http://other:8265") == "http://other:8265"


def test_entrypoint_resources_are_name_equals_amount():
    assert parse_resources(["head=1", "ssd=0.5"]) == {"head": 1.0, "ssd": 0.5}
    for bad in ("head", "head=", "=1", "head=-1", "head=x"):
        with pytest.raises(JobError, match="expected NAME=AMOUNT"):
            parse_resources([bad])
