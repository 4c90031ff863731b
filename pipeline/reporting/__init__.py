"""What runs recorded in MLMD, told as summaries, history, versions and HTML reports."""
