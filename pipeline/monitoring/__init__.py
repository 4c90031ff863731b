"""Live quality of the served model: late labels joined to the request log, and what they say."""
