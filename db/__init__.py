"""Persistence of demo-search: SQLAlchemy models, Alembic migrations and the :class:`Store` API.

``db`` never imports ``demo_search`` or ``workers``. Everything a caller needs is exported here.
"""

from db.engine import DEFAULT_BUSY_TIMEOUT_S, parse_url
from db.errors import (
    DatabaseDamagedError,
    DatabaseNotFoundError,
    DatabaseURLError,
    LeaseHeldError,
    LeaseLostError,
    RecordConflictError,
    SchemaVersionError,
    SearchExistsError,
    SearchNotFoundError,
    StoreError,
)
from db.lease_owner import LeaseOwner
from db.records import (
    Candidate,
    CandidateStatus,
    Evaluation,
    Lease,
    LedgerEntry,
    Search,
    SearchStatus,
    SearchSummary,
    SetTotals,
    Step,
    StoredItem,
    TuningResult,
)
from db.schema import (
    UPGRADE_COMMAND,
    DatabaseInfo,
    SchemaState,
    current_revision,
    head_revision,
    inspect_database,
    upgrade,
)
from db.store import Store

__all__ = [
    "DEFAULT_BUSY_TIMEOUT_S",
    "UPGRADE_COMMAND",
    "Candidate",
    "CandidateStatus",
    "DatabaseDamagedError",
    "DatabaseInfo",
    "DatabaseNotFoundError",
    "DatabaseURLError",
    "Evaluation",
    "Lease",
    "LeaseHeldError",
    "LeaseLostError",
    "LeaseOwner",
    "LedgerEntry",
    "RecordConflictError",
    "SchemaState",
    "SchemaVersionError",
    "Search",
    "SearchExistsError",
    "SearchNotFoundError",
    "SearchStatus",
    "SearchSummary",
    "SetTotals",
    "Step",
    "Store",
    "StoreError",
    "StoredItem",
    "TuningResult",
    "current_revision",
    "head_revision",
    "inspect_database",
    "parse_url",
    "upgrade",
]
