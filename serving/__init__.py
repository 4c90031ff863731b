"""The model repository that TF Serving reads, and the ways to serve and call it."""
