"""Warm worker processes: where extraction and queries run, and what a worker's death means."""
