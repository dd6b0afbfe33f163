"""Measurements: probes, load runs and sources that take the numbers gates judge."""
