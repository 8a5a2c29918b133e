"""Escalation policies: the YAML as written, its checks, and the compiled form the engine reads.

Pure, like :mod:`dunning.core.domain`: compiling a policy reads no clock,
database or network beyond the file it is given.
"""
