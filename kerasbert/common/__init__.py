"""What every stage shares, on the standard library and numpy alone: the user-error type, names
the training side and the predictor must agree on, atomic files, logging, Markdown tables, how a
long text is truncated or windowed, the decision rule from scores to labels, reading tables of
text whatever their encoding, and the one rule for which of their columns hold the texts. Nothing
here imports another kerasbert package."""
