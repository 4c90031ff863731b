"""What the server keeps about its own traffic: the request log (its writer and its reader)."""
