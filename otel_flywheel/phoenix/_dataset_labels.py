"""Dataset descriptions and labels in Phoenix: what a routed dataset holds, said where people look.

Phoenix 20.x keeps a description per dataset (set when the first upload creates it) and global
dataset labels (``/v1/dataset_labels``: name, color, description) applied per dataset
(``PUT /v1/datasets/{name}/labels/{label_id}``, idempotent). Labels are presentation, not data:
a failure here is logged and tried again by the next sink, never a reason to hold an example back.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import quote

import httpx

__all__ = ["DatasetLabeler"]

logger = logging.getLogger(__name__)

# Colors Phoenix shows labels in; picked by a digest of the name so a label keeps its color.
_PALETTE: Final = ("#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#ff7f0e", "#17becf", "#8c564b")
_PAGE: Final = 100


class DatasetLabeler:
    """Applies each dataset's labels once per process; creates the labels that do not exist."""

    def __init__(self, http: httpx.Client, *, timeout: httpx.Timeout) -> None:
        self._http = http
        self._timeout = timeout
        self._label_ids: dict[str, str] = {}
        self._labelled: set[str] = set()

    def ensure(
        self, dataset: str, upload: Mapping[str, Any] | None, labels: Mapping[str, str]
    ) -> None:
        """Apply ``labels`` (name -> description) to ``dataset``, whose id the ``upload`` answer
        holds (a dataset name with ``/`` cannot go into the route's path); never raises."""
        if not labels or dataset in self._labelled:
            return
        try:
            dataset_id = str((upload or {})["data"]["dataset_id"])
            for name, description in labels.items():
                label_id = self._label_id(name, description)
                response = self._http.put(
                    f"v1/datasets/{quote(dataset_id, safe='')}/labels/{quote(label_id, safe='')}",
                    timeout=self._timeout,
                )
                response.raise_for_status()
        except (httpx.HTTPError, KeyError, TypeError, ValueError) as error:
            logger.info(
                "could not label dataset %r in Phoenix (%s); will try again", dataset, error
            )
            return
        self._labelled.add(dataset)

    def _label_id(self, name: str, description: str) -> str:
        known = self._label_ids.get(name)
        if known is not None:
            return known
        color = _PALETTE[hashlib.sha256(name.encode()).digest()[0] % len(_PALETTE)]
        response = self._http.post(
            "v1/dataset_labels",
            json={"name": name, "color": color, "description": description},
            timeout=self._timeout,
        )
        if response.status_code == 409:  # it exists: find its id
            label_id = self._find(name)
        else:
            response.raise_for_status()
            label_id = str(response.json()["data"]["id"])
        self._label_ids[name] = label_id
        return label_id

    def _find(self, name: str) -> str:
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": _PAGE}
            if cursor:
                params["cursor"] = cursor
            response = self._http.get("v1/dataset_labels", params=params, timeout=self._timeout)
            response.raise_for_status()
            body = response.json()
            for label in body.get("data") or ():
                if label.get("name") == name:
                    return str(label["id"])
            cursor = body.get("next_cursor")
            if not cursor:
                raise KeyError(f"dataset label {name!r} exists but was not listed")
