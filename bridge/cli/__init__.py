"""The command line and all presentation: click commands, rich tables and progress, matplotlib plots."""
