"""Built-in non-channel plugins: guardrail presets, reply classifiers, strategies."""
