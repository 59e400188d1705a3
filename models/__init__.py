"""piccl's model manifest and the code that finds, verifies and fetches model files."""
