"""Automatic checkers for the notebooks' exercises.

One module per notebook (``glmlib.exercises.masks`` for notebook 03, ...).
Each checker runs the learner's function on several cases, compares with an
independent reference and, for a wrong answer, says what the mistake looks
like. The worked solutions live in the notebooks (marked for the grading
tool), never in this package.
"""
from .checking import Case, CheckResult, ExerciseFailed, Mistake, Shortcut, run_cases

__all__ = ["Case", "CheckResult", "ExerciseFailed", "Mistake", "Shortcut", "run_cases"]
