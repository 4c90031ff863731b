"""The model code TFX loads by module path: Transform, Trainer, the Keras model, signatures."""
