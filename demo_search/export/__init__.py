"""Export of the best demonstration set (JSON validated by a shipped schema, or a URIAL prompt file)."""
