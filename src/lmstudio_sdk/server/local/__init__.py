"""The local-inference kit below the engines: the LM Studio-layout models folder and its GGUF
metadata reader, BERT→GGUF conversion, installing the bundled models, the tiny test projector.

It imports no other part of the server; the llama engine and the CLI both use it.
"""
