"""What the assistant runs on the user's device: ONNX Runtime, numpy and Pillow only. Nothing runs on import."""
