"""Trained models that ship inside the package: the understanding model and fastText's language
identification."""
