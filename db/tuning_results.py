"""The results of decoding-tuning studies of a search."""

from __future__ import annotations

from sqlalchemy import select

from db.clock import utc_now
from db.conversions import checked_json, tuning_result_from_row
from db.records import TuningResult
from db.store_part import TUNING_RESULTS, StorePart


class TuningResults(StorePart):
    """One result per (search, study name), replaced when the study is resumed or extended."""

    def record_tuning_result(self, name: str, result: TuningResult) -> TuningResult:
        """Store (or replace) the result of the tuning study ``result.study_name`` of the search; returns it as
        stored. A resumed or extended study records its result again under the same study name."""
        values = {
            "demo_ids": list(result.demo_ids),
            "params": checked_json(result.params, f"the parameters of tuning study {result.study_name!r}"),
            "score": result.score,
            "stderr": result.stderr,
            "baseline_score": result.baseline_score,
            "n_trials": result.n_trials,
            "importances": checked_json(result.importances, f"the importances of tuning study {result.study_name!r}"),
        }
        c = TUNING_RESULTS.c
        what = f"recording tuning study {result.study_name!r} of search {name!r}"
        with self._transactions.scope(what, write=True) as session:
            search_id = self._search_id(session, name)
            insert = self._insert(TUNING_RESULTS).values(search_id=search_id, study_name=result.study_name, **values)
            row = session.execute(
                insert.on_conflict_do_update(
                    index_elements=[c.search_id, c.study_name],
                    set_={**{key: insert.excluded[key] for key in values}, "updated_at": utc_now()},
                ).returning(*TUNING_RESULTS.c)
            ).one()
            return tuning_result_from_row(row)

    def tuning_results(self, name: str) -> list[TuningResult]:
        """The search's tuning results, most recently updated last."""
        c = TUNING_RESULTS.c
        with self._transactions.scope(f"reading tuning results of search {name!r}", write=False) as session:
            search_id = self._search_id(session, name)
            statement = select(*TUNING_RESULTS.c).where(c.search_id == search_id).order_by(c.updated_at, c.study_name)
            return [tuning_result_from_row(row) for row in session.execute(statement)]
