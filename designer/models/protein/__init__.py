"""Moved to ``designer.models.sequence`` (the plug-in reads any fixed alphabet); kept for old imports."""
