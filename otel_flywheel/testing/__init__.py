"""What otel-flywheel ships for testing agents: a scripted OpenAI-compatible LLM server, a local
Phoenix launcher, and pytest fixtures (``llm_server``, ``phoenix_server``, ``phoenix_server_client``,
auto-loaded through the ``pytest11`` entry point).

Import from the submodules (``otel_flywheel.testing.llm_server``, ``otel_flywheel.testing.phoenix``):
this package imports nothing, so the pytest plugin stays cheap for every suite that loads it.
"""
