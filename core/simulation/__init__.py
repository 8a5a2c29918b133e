"""``dunning simulate``: a policy tried on a synthetic or real portfolio on a simulated clock."""
