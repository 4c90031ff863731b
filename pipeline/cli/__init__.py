"""The `penguins` command line: parsers and handlers that parse, call and print."""
