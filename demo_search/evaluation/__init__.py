"""Scoring fixed demonstration sets: ``demo-search evaluate`` (:mod:`demo_search.evaluation.evaluate`), the set
scorer it shares with the search's test split (:mod:`demo_search.evaluation.sets`), and paired statistics."""
