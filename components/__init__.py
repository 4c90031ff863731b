"""What TFX loads and runs: the feature spec, the model code, custom components and resolvers."""
