"""Attribute keys, in one place.

OpenInference and OTel GenAI keys come from their own packages so that no key is hand-spelled twice;
the few the packages do not export (flattened-list prefixes, span-event names of older GenAI
instrumentors) and the flywheel's own ``flywheel.*`` keys are defined here.
"""

from __future__ import annotations

from typing import Final

from openinference.semconv.resource import ResourceAttributes
from openinference.semconv.trace import (
    DocumentAttributes,
    MessageAttributes,
    MessageContentAttributes,
    OpenInferenceSpanKindValues,
    RerankerAttributes,
    SpanAttributes,
    ToolAttributes,
    ToolCallAttributes,
)
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai
from opentelemetry.semconv.attributes import service_attributes

__all__ = [
    "DocumentAttributes",
    "MessageAttributes",
    "MessageContentAttributes",
    "OpenInferenceSpanKindValues",
    "RerankerAttributes",
    "ResourceAttributes",
    "SpanAttributes",
    "ToolAttributes",
    "ToolCallAttributes",
    "gen_ai",
]

# --- OpenInference: flattened lists are `<prefix>.<index>.<nested key>` ---------------------------
OI_INPUT_MESSAGES_PREFIX: Final = SpanAttributes.LLM_INPUT_MESSAGES + "."
OI_OUTPUT_MESSAGES_PREFIX: Final = SpanAttributes.LLM_OUTPUT_MESSAGES + "."
OI_TOOLS_PREFIX: Final = SpanAttributes.LLM_TOOLS + "."
OI_DOCUMENTS_PREFIX: Final = SpanAttributes.RETRIEVAL_DOCUMENTS + "."
OI_RERANKER_OUTPUT_PREFIX: Final = RerankerAttributes.RERANKER_OUTPUT_DOCUMENTS + "."
OI_RERANKER_QUERY: Final = RerankerAttributes.RERANKER_QUERY
OI_MESSAGE_TOOL_CALLS_PREFIX: Final = MessageAttributes.MESSAGE_TOOL_CALLS + "."
OI_MESSAGE_CONTENTS_PREFIX: Final = MessageAttributes.MESSAGE_CONTENTS + "."

# --- OTel GenAI: message content carried in span events by older instrumentors -----------------
GENAI_EVENT_CONTENT_PROMPT: Final = "gen_ai.content.prompt"
GENAI_EVENT_CONTENT_COMPLETION: Final = "gen_ai.content.completion"
GENAI_EVENT_SYSTEM_MESSAGE: Final = "gen_ai.system.message"
GENAI_EVENT_USER_MESSAGE: Final = "gen_ai.user.message"
GENAI_EVENT_ASSISTANT_MESSAGE: Final = "gen_ai.assistant.message"
GENAI_EVENT_TOOL_MESSAGE: Final = "gen_ai.tool.message"
GENAI_EVENT_CHOICE: Final = "gen_ai.choice"
GENAI_EVENT_OPERATION_DETAILS: Final = "gen_ai.client.inference.operation.details"
GENAI_RETRIEVAL_TOP_K: Final = "gen_ai.retrieval.top_k"

# --- OTel general ---------------------------------------------------------------------------------
SERVICE_NAME: Final = "service.name"
SERVICE_VERSION: Final = service_attributes.SERVICE_VERSION
EXCEPTION_EVENT: Final = "exception"
EXCEPTION_TYPE: Final = "exception.type"
EXCEPTION_MESSAGE: Final = "exception.message"
EXCEPTION_STACKTRACE: Final = "exception.stacktrace"
ERROR_TYPE: Final = "error.type"

# --- otel-flywheel's own keys ---------------------------------------------------------------------
FLYWHEEL_CONSENT: Final = "flywheel.consent"
"""Set to false on any span of a trace (usually the root) to keep it out of every dataset."""
FLYWHEEL_REDACTION_COUNT: Final = "flywheel.redaction.count"
FLYWHEEL_REDACTION_TYPES: Final = "flywheel.redaction.types"
FLYWHEEL_FEWSHOT_EXAMPLE_IDS: Final = "flywheel.fewshot.example_ids"
"""The dataset example ids a few-shot library put in front of the model, on the span that asked
(``FewShotLibrary.select``): routing copies them into the examples it writes, exports into the
manifest's row lineage."""

# --- otel-flywheel's own keys in annotation metadata ----------------------------------------------
FEEDBACK_ID_KEY: Final = "feedback_id"
"""Routing writes each feedback back to Phoenix as an annotation whose metadata carries this key,
so a reader (sync-feedback, the report) tells routing's copies from what people wrote."""
