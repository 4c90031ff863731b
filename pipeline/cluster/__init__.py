"""Local Flink and Spark clusters for Beam's portable runner: fetched, started, checked, stopped."""
