"""The search configuration: one frozen pydantic model per YAML section.

Every model forbids unknown keys. Numbers are strict (``true`` is not ``1``, ``"3"`` is not ``3``); the YAML
reader (``yaml_source.py``) already reads ``1e-3`` as a number. Checks that involve more than one field live
in ``model_validator``s and report every problem of their section at once, each line naming the full key path
(they are raised as a ``cross_field`` error carrying the lines in ``ctx["problems"]``).

Use :func:`demo_search.config.load_config` to read a file; it resolves relative paths against the file's
directory and turns validation errors into one :class:`~demo_search.errors.ConfigError`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, Field, PlainValidator, StrictFloat, StrictInt, model_validator
from pydantic_core import PydanticCustomError

from demo_search.config.base import (
    DataSourcePath,
    FilePath,
    ModelLocation,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    Section,
    cross_field,
    section,
)
from demo_search.config.chat_template_text import chat_template_text
from demo_search.config.database import chosen_database_url, database_url_problem, masked_url
from demo_search.config.paths import is_local_model
from demo_search.config.scorers import ScorerConfig
from demo_search.config.tuning import TuningConfig
from workers.decoding import DECODING_RANGES

SEARCH_NAME_PATTERN = r"^[A-Za-z0-9_.-]+$"

ChatTemplateText = Annotated[str, AfterValidator(chat_template_text)]


def _decoding_range(name: str) -> AfterValidator:
    """Checks a decoding parameter against its range in ``workers.decoding.DECODING_RANGES``."""
    allowed = DECODING_RANGES[name]

    def check(value: float) -> float:
        if not allowed.contains(value):
            raise PydanticCustomError("range", "must be {expected}, got {got}",
                                      {"expected": allowed.describe(), "got": value})
        return value

    return AfterValidator(check)


def _database_url(value: str) -> str:
    """The store's own check of a URL (``demo_search.config.database``), as a validation error."""
    problem = database_url_problem(value)
    if problem is not None:
        raise PydanticCustomError("invalid_url", "{problem}", {"problem": problem})
    return value


def _unconfigured_database_url() -> str:
    """``$DEMO_SEARCH_DB``, else the default (``load_config`` gives the environment its place before the file)."""
    return chosen_database_url()[0]


class ModelConfig(Section):
    """The model under alignment and the engine that runs it."""

    path: ModelLocation = Field(
        "tiny",
        validate_default=True,
        description="'tiny' (the bundled model), a local model directory, or a hub id (org/name)",
    )
    revision: str | None = Field(
        None, min_length=1, description="for a hub id: the branch, tag or commit to load (null: main)"
    )
    engine: Literal["transformers", "vllm"] = "transformers"
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = Field(
        "auto", description="auto: bfloat16 on GPUs that support it (else float16), float32 on CPU"
    )
    max_context: PositiveInt | None = Field(
        None, description="context window in tokens; null means the model's own window, capped at 32768"
    )
    batch_size: PositiveInt = 8
    tensor_parallel_size: PositiveInt = 1
    options: dict[str, Any] = Field(default_factory=dict, description="engine keyword arguments, passed through")

    @model_validator(mode="after")
    def _settings_fit_model_and_engine(self) -> ModelConfig:
        problems = []
        if self.revision is not None and is_local_model(self.path):
            problems.append(f"model.revision is {self.revision!r} but model.path {self.path!r} is a local directory; "
                            "a revision applies to hub ids only (remove model.revision)")
        if self.options and self.engine != "vllm":
            problems.append(f"model.options {sorted(self.options)} are passed to vLLM, but model.engine is "
                            f"{self.engine!r}, which takes none (remove model.options)")
        cross_field(problems)
        return self


class TemplateConfig(Section):
    """How demonstrations become a prompt."""

    kind: Literal["urial", "chat"] = "urial"
    rules_file: FilePath | None = None
    fixed_demos_file: FilePath | None = None
    position: Literal["before_fixed", "after_fixed"] = Field(
        "before_fixed", description="where searched demonstrations go relative to the fixed ones"
    )
    chat_template: ChatTemplateText | None = Field(
        None,
        description="kind chat: a Jinja chat template (inline, or a file path) used instead of the tokenizer's own",
    )

    @model_validator(mode="after")
    def _chat_template_needs_chat(self) -> TemplateConfig:
        if self.chat_template is not None and self.kind != "chat":
            cross_field([
                f"template.chat_template is set but template.kind is {self.kind!r}; only kind chat renders "
                "with a chat template (set template.kind: chat, or remove template.chat_template)"
            ])
        return self


class DataFileConfig(Section):
    """One data file and how to read it."""

    path: DataSourcePath = Field(
        description="a JSON or JSONL file, a Parquet file, or a dataset directory written by Dataset.save_to_disk "
        "(or a URIAL prompt file with format urial)"
    )
    format: Literal["auto", "alpaca", "sharegpt", "messages", "prompt_response", "mtbench", "urial"] = "auto"
    turns: Literal["first", "both"] = "first"


class DataConfig(Section):
    """The candidate pool, the held-out (validation) prompts and the optional test prompts."""

    pool: DataFileConfig = Field(description="the candidate demonstrations, as {path: ...}")
    heldout: DataFileConfig = Field(description="the held-out prompts, as {path: ...}")
    test: DataFileConfig | None = Field(
        None,
        description="optional test prompts, as {path: ...} (formats as heldout): never used for selection; the chosen "
        "set is scored on them so that validation and test are shown side by side",
    )
    test_every_step: bool = Field(
        True, description="score the chosen set on data.test after every step (false: only when the search ends)"
    )
    max_item_tokens: PositiveInt | None = None


class BudgetConfig(Section):
    """Limits that stop a search early; null means no limit."""

    max_evaluations: PositiveInt | None = None
    max_tokens: PositiveInt | None = None
    max_wall_time_s: PositiveFloat | None = None
    max_usd: PositiveFloat | None = Field(
        None, description="stop when the judge's spending (its reported tokens at scorer.judge.price) reaches this"
    )


class RacingConfig(Section):
    """Racing (successive elimination) inside a step: candidates confidently worse than the best leave early
    (``demo_search.search.racing``); off by default, which evaluates every candidate on every prompt."""

    enabled: bool = False
    delta: Annotated[StrictFloat, Field(gt=0, lt=1, allow_inf_nan=False)] = Field(
        0.05, description="the probability, per step, that racing drops one of the step's truly best sets"
    )
    first_prompts: PositiveInt = Field(8, description="held-out prompts every candidate gets first")
    round_prompts: PositiveInt = Field(8, description="prompts added per round for the candidates still in contention")


RACING_SCORERS = ("match", "judge")
"""The scorers whose scores have a known bounded range, which racing's test needs."""
RACING_STRATEGIES = ("greedy", "beam")


class StrategyConfig(Section):
    """Which demonstration sets each step tries and when the search stops."""

    kind: Literal["greedy", "beam", "random", "one_shot"] = "greedy"
    beam_width: PositiveInt = 1
    max_steps: PositiveInt = 3
    min_delta: Annotated[StrictFloat, Field(allow_inf_nan=False)] = 0.0
    budget: BudgetConfig = section()
    racing: RacingConfig = section()
    reuse_evaluations: bool = Field(
        True, description="reuse an evaluation computed before in this database (same model, prompt ids, decoding "
        "and scorer) instead of computing it again (demo_search.search.ledger)",
    )
    on_failed_candidate: Literal["fail", "skip"] = Field(
        "fail",
        description="a step in which a candidate failed on every attempt: fail (choose nothing; resume retries it) "
        "or skip (choose among the others, naming the skipped ones in the trajectory)",
    )

    @property
    def survivors(self) -> int:
        """How many sets survive a greedy or beam step: the beam width for kind beam, else 1."""
        return self.beam_width if self.kind == "beam" else 1

    @model_validator(mode="after")
    def _width_needs_beam(self) -> StrategyConfig:
        if self.beam_width > 1 and self.kind != "beam":
            cross_field([
                f"strategy.beam_width is {self.beam_width} but strategy.kind is {self.kind!r}; only kind beam "
                f"keeps more than one set per step (set strategy.kind: beam, or strategy.beam_width: 1)"
            ])
        return self


class DecodingConfig(Section):
    """Sampling settings of generated answers (see ``workers.decoding.DecodingParams``, whose ranges apply)."""

    temperature: Annotated[StrictFloat, Field(allow_inf_nan=False), _decoding_range("temperature")] = 0.0
    top_p: Annotated[StrictFloat, Field(allow_inf_nan=False), _decoding_range("top_p")] = 1.0
    top_k: Annotated[StrictInt, _decoding_range("top_k")] = Field(0, description="0 disables top-k")
    repetition_penalty: Annotated[StrictFloat, Field(allow_inf_nan=False), _decoding_range("repetition_penalty")] = 1.0
    max_tokens: Annotated[StrictInt, _decoding_range("max_tokens")] = 256
    stop: tuple[Annotated[str, Field(min_length=1)], ...] = ()
    seed: NonNegativeInt | None = None


def _actor_count(value: Any) -> int | str:
    if value == "auto" or (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
        return value
    raise PydanticCustomError("actor_count", "must be a whole number >= 1, or auto")


ActorCount = Annotated[int | Literal["auto"], PlainValidator(_actor_count)]


class WorkersConfig(Section):
    """How many engine actors run, and what each one asks Ray for (none of it changes a search's results)."""

    count: ActorCount = Field(
        "auto", description="engine actors; auto fills what the cluster offers, and grows when nodes join"
    )
    gpus_per_worker: NonNegativeFloat = 0.0
    cpus_per_worker: NonNegativeFloat = 1.0
    resources: dict[str, PositiveFloat] = Field(
        default_factory=dict, description="custom Ray resources each actor asks for, e.g. {accelerator: 1}"
    )
    max_restarts: Annotated[int, Field(ge=-1)] = Field(
        3, description="how often Ray restarts a dead actor (e.g. after its node died); -1: without limit"
    )
    placement_timeout_s: PositiveFloat = Field(
        120.0, description="how long to wait for Ray to place the actors before failing with the missing resources"
    )


class DatabaseConfig(Section):
    """Where the search is stored. The URL is used as given (a relative SQLite path is relative to the
    working directory, as for every ``demo-search`` command)."""

    url: Annotated[str, AfterValidator(_database_url)] = Field(
        default_factory=_unconfigured_database_url, repr=False
    )

    def display_url(self) -> str:
        """The URL with its password masked, for logs and stored copies."""
        return masked_url(self.url)


class SearchConfig(Section):
    """A whole search: what to search over, how to score, and where to run and store it."""

    name: str = Field(pattern=SEARCH_NAME_PATTERN, description="the search name (letters, digits, '_', '.', '-')")
    seed: NonNegativeInt = 0
    model: ModelConfig = section()
    template: TemplateConfig = section()
    data: DataConfig = Field(description="a section with pool: {path: ...} and heldout: {path: ...}")
    strategy: StrategyConfig = section()
    scorer: ScorerConfig = section()
    decoding: DecodingConfig = section()
    workers: WorkersConfig = section()
    database: DatabaseConfig = section()
    tuning: TuningConfig = section()

    @model_validator(mode="after")
    def _tuning_needs_generation(self) -> SearchConfig:
        if self.tuning.enabled and not self.scorer.generates:
            cross_field([
                f"tuning.enabled is true but scorer.kind is {self.scorer.kind!r}, which scores log-likelihoods and "
                "does not depend on decoding; use a generating scorer (match, judge, reward, custom) or "
                "tuning.enabled: false"
            ])
        return self

    @model_validator(mode="after")
    def _racing_fits_search(self) -> SearchConfig:
        if not self.strategy.racing.enabled:
            return self
        problems = []
        if self.scorer.kind not in RACING_SCORERS:
            problems.append(
                f"strategy.racing.enabled is true but scorer.kind is {self.scorer.kind!r}, whose scores have no "
                f"known bounds; racing's guarantee needs a bounded score range ({', '.join(RACING_SCORERS)})"
            )
        if self.strategy.kind not in RACING_STRATEGIES:
            problems.append(
                f"strategy.racing.enabled is true but strategy.kind is {self.strategy.kind!r}; racing ranks the "
                f"candidates of {' and '.join(RACING_STRATEGIES)} steps only (set strategy.racing.enabled: false)"
            )
        cross_field(problems)
        return self

    @model_validator(mode="after")
    def _usd_budget_needs_a_priced_judge(self) -> SearchConfig:
        if self.strategy.budget.max_usd is None:
            return self
        problems = []
        if self.scorer.kind != "judge":
            problems.append(f"strategy.budget.max_usd limits what the judge costs, but scorer.kind is "
                            f"{self.scorer.kind!r}, which calls no judge (remove strategy.budget.max_usd)")
        elif self.scorer.judge.price is None:
            problems.append("strategy.budget.max_usd needs scorer.judge.price ({input_per_mtok: ..., "
                            "output_per_mtok: ...}, USD per million tokens) to turn the judge's tokens into dollars")
        cross_field(problems)
        return self

    @model_validator(mode="after")
    def _placement_fits_model(self) -> SearchConfig:
        problems = []
        tensor_parallel = self.model.tensor_parallel_size
        if tensor_parallel > 1 and self.model.engine != "vllm":
            problems.append(f"model.tensor_parallel_size is {tensor_parallel} but only engine vllm splits a model "
                            f"across GPUs (model.engine is {self.model.engine!r})")
        if tensor_parallel > 1 and self.workers.gpus_per_worker < tensor_parallel:
            problems.append(f"workers.gpus_per_worker must be >= model.tensor_parallel_size ({tensor_parallel}), "
                            f"got {self.workers.gpus_per_worker:g}")
        gpus = self.workers.gpus_per_worker
        utilization = self.model.options.get("gpu_memory_utilization")
        if self.model.engine == "vllm" and 0 < gpus < 1 and isinstance(utilization, int | float) and utilization > gpus:
            problems.append(f"model.options.gpu_memory_utilization is {utilization:g} but workers.gpus_per_worker is "
                            f"{gpus:g}: engines sharing a GPU would ask for more than its memory; set it to at most "
                            f"{gpus:g}, or leave it out to get vLLM's default scaled by gpus_per_worker")
        cross_field(problems)
        return self

    def stored_form(self, *, hide_password: bool = True) -> dict[str, Any]:
        """The configuration as plain JSON data (absolute paths), as stored with a search; ``load_stored_config``
        validates it back. The database password is masked unless ``hide_password`` is false."""
        data = self.model_dump(mode="json")
        if hide_password:
            data["database"]["url"] = self.database.display_url()
        return data

    def to_yaml(self, *, hide_password: bool = True) -> str:
        """The configuration as YAML (absolute paths), to show to the user (see ``stored_form``)."""
        return yaml.safe_dump(self.stored_form(hide_password=hide_password), sort_keys=False, allow_unicode=True)
