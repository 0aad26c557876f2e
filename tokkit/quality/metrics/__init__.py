"""Metric functions over encoded batches (numpy, vectorised over every text set at once)."""
