"""Methods: training strategies (the built-in `connect` is C-MCR), their enhancement, losses and training loop."""
