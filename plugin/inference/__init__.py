"""Models on the box: one ONNX Runtime wrapper and the models piccl runs with it."""
