"""Prompt templates: the URIAL prompt-file format, and the rendering of a search step as prefix-tree segments."""
