"""The site-packages of a sandbox machine's python3: stand-ins for `torch` and `transformers`.

Not part of the sandbox server: this folder is copied into the data dir at start (gpu_standin.py) and put
on every machine's PYTHONPATH, where the GPU check's probe imports them as the machine's own. They import
each other by name at run time (importlib), as packages of that machine do, never through the sandbox.
"""
