"""Evaluators: deterministic checks and the rubric LLM judge. Ships as ``otel_flywheel.evaluators``."""
