"""Data: sources (where items come from), the content-keyed embedding cache, and extraction."""
