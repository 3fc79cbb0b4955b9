"""Grading: the in-sandbox harness and export format, and the trusted comparators,
diagnostics and verdicts. Plain Python, no Django; see docs/grading.md.

Kept free of imports: the sandbox's warm parent imports ``grading.harness`` before it forks.
"""
