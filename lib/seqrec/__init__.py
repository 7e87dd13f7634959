"""Sequential recommenders, their trainer and the reproduction study's experiments (see DESIGN.md)."""
import os

# oneDNN, which runs torch's bf16 matrix products on the CPU, compiles a kernel for every matrix shape and keeps
# 1,024 of them; the trimmed passes of random batches come in more shapes than that, and a product whose kernel
# must be compiled again costs 2.5-3x one whose kernel is kept (measured). Read when torch first uses oneDNN.
os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "16384")
