"""Figures of a run, one function each, returning a ``matplotlib.figure.Figure``;
one module per subject.

Figures are built as ``Figure`` objects, without pyplot: nothing is shown, no global
figure list fills up, and saving renders with Agg (PNG) whatever the backend. Each has
a title, axis labels, class names, and the values on its bars and cells.
"""
