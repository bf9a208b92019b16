"""The MLflow model store seen from outside a run: whether a model URI resolves, and to
the kind of model asked for, before a run or the review page loads it."""
