"""Recipes: the YAML schema, reading it strictly, checking it before work, and its generated reference."""
