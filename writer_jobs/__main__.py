"""python -m writer_jobs: the writer-jobs command."""

from ._cli import entrypoint

entrypoint()
