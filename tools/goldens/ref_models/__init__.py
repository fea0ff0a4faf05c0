"""Small PyTorch reference forwards of families whose modeling code lives only in model
repositories (trust_remote_code): ChatGLM2/3, MiniCPM, Qwen v1. Written from the published
modeling files (see each module's docstring); parameter names equal the published checkpoints'
tensor names, so state_dict() is what the real safetensors hold."""
