"""Test doubles shared by the tests and the benchmarks; no test-only dependencies.

- :mod:`provenance.testing.fake_openai`: a real local OpenAI-compatible HTTP server (stdlib only).
- :mod:`provenance.testing.fake_teacher`: a scripted teacher answering Self-Instruct, Alpaca and
  rejection-sampling prompts for that server.
- :mod:`provenance.testing.tinymodels`: random-weight detoxify checkpoints built offline (needs the
  ``ml`` extra, imported lazily).

Nothing in the library imports this package.
"""
