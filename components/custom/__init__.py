"""Custom TFX components: typed CSV ExampleGen, validation gate, drift check, atomic pusher."""
