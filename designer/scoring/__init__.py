"""Synthesis scorecard: checks and scores a chemist or protein engineer acts on (issue 5)."""
