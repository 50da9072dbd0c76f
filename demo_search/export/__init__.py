"""Export of the best demonstration set: a typed JSON document (whose shipped JSON Schema is generated from it),
or a URIAL prompt file."""

from demo_search.export.document import build_export, export_to_urial
from demo_search.export.model import ExportDocument, ExportError, TunedDecoding

__all__ = ["ExportDocument", "ExportError", "TunedDecoding", "build_export", "export_to_urial"]
