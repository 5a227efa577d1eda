"""Rubric YAML files, the badcase taxonomy and their JSON Schema. Ships as ``otel_flywheel.rubrics``."""
