"""The pipeline: a recipe run end to end (connect), its ablation study, and evaluation of a saved space."""
