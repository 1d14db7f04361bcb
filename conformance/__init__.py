"""The conformance suite: adapters, oracle, Hypothesis machines, mutants, reports, CLI."""
