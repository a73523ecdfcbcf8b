"""Starting runs: wiring the configured sides and running the chosen (profile, part) pairs."""
