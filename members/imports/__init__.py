"""Imports of CSV and XLSX files: an engine, and the kinds of file it runs.

- engine: a job's life cycle (create, process in chunks, resume, fail) and its reads (recent jobs, error report);
  finds each kind through import_handler.
- files, xlsx: reading an uploaded file within bounds (decoding, blank rows, header mapping).
- kind: the contract between the engine and a kind (ImportKindHandler, Unit, ChunkResult), rows read by field
  name with their errors (Row, RowError), and the field parsers kinds share.
- members_kind: the members kind. The orders kind lives in orders.imports, above members.
- stale: jobs whose process died, failed with a reason.
"""
