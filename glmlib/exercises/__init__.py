"""Automatic checkers for the notebooks' exercises.

One module per notebook (``glmlib.exercises.masks`` for notebook 03, ...).
Each checker runs the learner's function on several cases and prints which
case failed, with the expected and the actual value, or a short success line.
"""
from .checking import CheckResult, Case, run_cases

__all__ = ["CheckResult", "Case", "run_cases"]
