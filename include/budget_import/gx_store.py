"""The validation results store of the project's GX context (include/gx/great_expectations.yml names it).

`ValidationDefinition.run()` always hands its result to the context's validation results store, and every
store serialises what it is given before its backend sees it (`Store.set` -> `serialize` ->
`to_json_dict`). GX 1.24 turns each `Decimal` of a result into a float through
`great_expectations.util.convert_decimal_to_float`, which calls `inspect.stack()` once per value (5-20 ms
each): a 250,000-line batch whose failing rows hold a few hundred amounts spent seconds there, for a copy
nobody reads. The pipeline keeps each job's result itself (validation.gx.json in the job's report folder,
local or on S3: docs/data-quality.md), so this store keeps nothing. It is configured, not patched in: GX
builds stores from `class_name` / `module_name` in great_expectations.yml; point the yml back at GX's
`ValidationResultsStore` with a filesystem backend to keep GX's own copies.
"""
from __future__ import annotations

from typing import Any

from great_expectations.data_context.store.validation_results_store import ValidationResultsStore


class DiscardingValidationResultsStore(ValidationResultsStore):
    """A validation results store that stores nothing (its backend, in memory, keeps only its id)."""

    def set(self, key: Any, value: Any, **kwargs: Any) -> None:
        if key == self._store_backend.STORE_BACKEND_ID_KEY:
            super().set(key, value, **kwargs)
