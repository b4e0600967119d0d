"""Self-contained HTML report of a design run (issue 5)."""
