"""The search configuration: a validated, frozen ``SearchConfig`` read from YAML with command-line overrides.

A file looks like this (every section but ``name`` and ``data`` may be left out; defaults shown)::

    name: quickstart            # required: letters, digits, '_', '.', '-'
    seed: 0
    model:    {path: tiny, engine: transformers, dtype: float32, max_context: null, batch_size: 8,
               tensor_parallel_size: 1, options: {}}
    template: {kind: urial, rules_file: null, fixed_demos_file: null, position: before_fixed,
               chat_template: null}
    data:     {pool: {path: pool.jsonl, format: auto, turns: first},
               heldout: {path: heldout.jsonl, format: auto, turns: first}, max_item_tokens: null}
    strategy: {kind: greedy, beam_width: 1, max_steps: 3, min_delta: 0.0,
               budget: {max_evaluations: null, max_tokens: null, max_wall_time_s: null, max_usd: null}}
    scorer:   {kind: loglik, match: {mode: exact, pattern: null},
               judge: {backend: http, model: null, base_url: null, api_key_env: OPENAI_API_KEY,
                       model_name: null, timeout_s: 60.0, max_retries: 3, concurrency: 8, max_tokens: 2048,
                       price: null},   # price: {input_per_mtok: 2.5, output_per_mtok: 10.0} (USD)
               reward: {model: null}, custom: {name: null, version: null}}
    decoding: {temperature: 0.0, top_p: 1.0, top_k: 0, repetition_penalty: 1.0, max_tokens: 256, stop: [],
               seed: null}
    workers:  {count: auto, gpus_per_worker: 0, cpus_per_worker: 1, resources: {}, max_restarts: 3,
               placement_timeout_s: 120.0}
    database: {url: "sqlite:///./demo_search.db"}
    tuning:   {enabled: false, n_trials: 30, parallel_trials: null, seed: null, startup_trials: 10,
               urial_settings: true, ranges: {temperature: {low: 0.0, high: 1.5}, top_p: {low: 0.5, high: 1.0},
               repetition_penalty: {low: 1.0, high: 1.5}, top_k: null, max_tokens: null}}

Entry points: :func:`load_config` (a file), :func:`load_config_data` (a mapping), :func:`load_config_text` (YAML
text), :func:`load_stored_config` (the configuration stored with a search), :func:`shortcut_overrides` (the CLI's
``--name`` / ``--db`` / ``--workers``), :func:`compute_fingerprint` and :func:`diff_fingerprints` (resume checks). Building runtime objects from a configuration is :mod:`demo_search.assembly`'s job. Every problem a user can fix is raised as one :class:`~demo_search.errors.ConfigError`.
"""

from demo_search.config.database import DB_ENV, DEFAULT_DB_URL, resolve_database_url
from demo_search.config.fingerprint import Fingerprint, compute_fingerprint, diff_fingerprints
from demo_search.config.loading import load_config, load_config_data, load_config_text, load_stored_config
from demo_search.config.overrides import Override, apply_overrides, parse_override, shortcut_overrides
from demo_search.config.paths import TINY_MODEL
from demo_search.config.schema import (
    BudgetConfig,
    DatabaseConfig,
    DataConfig,
    DataFileConfig,
    DecodingConfig,
    ModelConfig,
    RacingConfig,
    SearchConfig,
    StrategyConfig,
    TemplateConfig,
    WorkersConfig,
)
from demo_search.config.scorers import (
    CustomScorerConfig,
    JudgeConfig,
    JudgePrice,
    MatchConfig,
    RewardConfig,
    ScorerConfig,
)
from demo_search.config.tuning import TuningConfig, TuningRanges

__all__ = [
    "DB_ENV",
    "DEFAULT_DB_URL",
    "TINY_MODEL",
    "BudgetConfig",
    "CustomScorerConfig",
    "DataConfig",
    "DataFileConfig",
    "DatabaseConfig",
    "DecodingConfig",
    "Fingerprint",
    "JudgeConfig",
    "JudgePrice",
    "MatchConfig",
    "ModelConfig",
    "Override",
    "RacingConfig",
    "RewardConfig",
    "ScorerConfig",
    "SearchConfig",
    "StrategyConfig",
    "TemplateConfig",
    "TuningConfig",
    "TuningRanges",
    "WorkersConfig",
    "apply_overrides",
    "compute_fingerprint",
    "diff_fingerprints",
    "load_config",
    "load_config_data",
    "load_config_text",
    "load_stored_config",
    "parse_override",
    "resolve_database_url",
    "shortcut_overrides",
]
