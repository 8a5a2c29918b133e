"""Example policies, cases and a sample portfolio (used by `dunning demo`)."""
