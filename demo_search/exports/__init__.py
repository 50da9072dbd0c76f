"""Export of the best demonstration set: a typed JSON document (whose shipped JSON Schema is generated from it),
a URIAL prompt file, or chat messages."""

from demo_search.exports.document import build_export, export_to_urial
from demo_search.exports.messages import export_to_messages
from demo_search.exports.model import ExportDocument, ExportError, TunedDecoding

__all__ = ["ExportDocument", "ExportError", "TunedDecoding", "build_export", "export_to_messages", "export_to_urial"]
