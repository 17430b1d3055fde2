"""Searching an index: the query engine, the vector spaces it searches, and retrieval metrics."""
