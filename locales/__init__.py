"""Catalogues and distress lexicons, shipped as package data (see config/resources.py)."""
