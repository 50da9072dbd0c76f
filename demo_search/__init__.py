"""demo_search."""
