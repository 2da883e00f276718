"""Crema's background worker: ``python -m worker`` (see worker/__main__.py).

Jobs are enqueued through webapp.jobs; their functions live beside the features they
serve and are decorated with ``webapp.jobs.job``.
"""
