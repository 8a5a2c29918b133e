"""The pure domain: cases, events, contacts, the escalation engine and its guardrails.

Nothing in this package reads a clock, a database or the network; an
import-linter contract in setup.cfg keeps it so. Time, history and policy
come in as arguments, so every promise of the engine can be proven by
property-based tests.
"""
