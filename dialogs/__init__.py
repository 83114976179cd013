"""Flows, system texts and the sample deployment, shipped as package data (see resources.py)."""
