"""Incidents, their alerts and their timeline: the reads and the changes analysts make."""
