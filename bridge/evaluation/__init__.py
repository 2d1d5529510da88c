"""Evaluation: ranking metrics, retrieval and zero-shot tasks, and the non-projector baselines."""
