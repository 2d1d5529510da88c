"""Core: the MCR contract, projectors, the plugin registry, and the saved space (bridge) with its format.

Imports nothing above it; torch is imported only by the modules that run models.
"""
