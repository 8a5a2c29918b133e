"""Test support shipped with dunning: fake provider servers and the channel contract suite."""
