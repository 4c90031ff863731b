"""The model store that TF Serving reads, the local server over it, and the client (no TFX here)."""
