"""LightLLM in C++ — standard-library-only Python client and launcher.

    from lightllm import Client
    c = Client("http://127.0.0.1:8000")
    print(c.generate("Hello", max_new_tokens=16)["generated_text"][0])
    for ev in c.generate_stream("Hello", max_new_tokens=16):
        print(ev["token"]["text"], end="", flush=True)

`python -m lightllm.server [serve flags]` starts the `lightllm serve` binary;
`python -m lightllm.client --text ...` is a console client.
"""

from .client import Client, LightLLMError, iter_sse

__all__ = ["Client", "LightLLMError", "iter_sse"]
__version__ = "0.1.0"
