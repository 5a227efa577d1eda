"""Privacy operations: erasure of a user's data and retention of local data.

``purge_user`` removes a user's data (by pseudonymized id: ``pseudonymize_user`` turns a raw id
into the token capture stored) from the outbox, the routing store, Phoenix datasets and Phoenix projects
(through ``otel_flywheel.phoenix``);
``apply_retention`` drops local data past a cutoff. ``otel-flywheel purge`` wraps both. See
docs/privacy.md for what each store keeps and for how long.
"""

from __future__ import annotations

from otel_flywheel.privacy_ops._pseudonym import is_pseudonym, pseudonymize_user
from otel_flywheel.privacy_ops._purge import (
    PurgeReport,
    RetentionReport,
    apply_retention,
    purge_user,
)

__all__ = [
    "PurgeReport",
    "RetentionReport",
    "apply_retention",
    "is_pseudonym",
    "pseudonymize_user",
    "purge_user",
]
