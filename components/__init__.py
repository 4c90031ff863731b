"""The ML code the pipeline runs: cleaning, transform, model, signatures and custom components."""
