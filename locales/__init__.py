"""Catalogues and distress lexicons, shipped as package data (see counsel_bot/resources.py)."""
