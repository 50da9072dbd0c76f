"""What every section of the configuration shares: the frozen, strict base model, the number types, and how a
section reports problems that involve several fields."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictFloat, StrictInt
from pydantic_core import PydanticCustomError

from demo_search.config.paths import existing_data_source, existing_file, model_location

FilePath = Annotated[str, AfterValidator(existing_file)]
DataSourcePath = Annotated[str, AfterValidator(existing_data_source)]
ModelLocation = Annotated[str, AfterValidator(model_location)]
NonNegativeFloat = Annotated[StrictFloat, Field(ge=0, allow_inf_nan=False)]
PositiveFloat = Annotated[StrictFloat, Field(gt=0, allow_inf_nan=False)]
PositiveInt = Annotated[StrictInt, Field(ge=1)]
NonNegativeInt = Annotated[StrictInt, Field(ge=0)]


def section(description: str | None = None) -> Any:
    """A section's default: an empty mapping, validated like a written one (so its defaults are checked too)."""
    return Field(default_factory=dict, validate_default=True, description=description)


def cross_field(problems: list[str]) -> None:
    if problems:
        raise PydanticCustomError("cross_field", "{count} cross-field problem(s)", {"count": len(problems),
                                                                                     "problems": problems})


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
