"""The demonstration search: candidate sets, strategies, aggregation and the driver loop."""
