"""Measurements, returned as data (front ends render them): the search's cost and memory against
their limits (:mod:`.bench`).  The GPU validation suite is a harness: ``scripts/gpu_suite.py``."""
