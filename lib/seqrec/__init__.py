"""Sequential recommenders, their trainer and the reproduction study's experiments (see DESIGN.md)."""
