"""Reading every page of a listing, retrying each page on its own.

botocore's paginators would restart a listing from scratch when a page fails; here a throttled
page is retried with the same marker, so page 40 of 50 never costs pages 1 to 39 again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from functools import partial
from typing import Any

from backupwatch.aws.retry import Retrier
from backupwatch.core.errors import AwsCallError


def pages(
    retrier: Retrier,
    operation: str,
    call: Callable[..., Mapping[str, Any]],
    *,
    token_in: str,
    token_out: str,
    **params: Any,
) -> Iterator[Mapping[str, Any]]:
    """Yield each page of ``call(**params)``, following ``token_out`` into ``token_in``.

    RDS pages with ``Marker`` in and out; S3 ListObjectsV2 with ``ContinuationToken`` in
    and ``NextContinuationToken`` out.
    A page that fails for good raises ``AwsCallError``; pages already yielded stay yielded.
    """
    token: str | None = None
    seen: set[str] = set()
    while True:
        request = dict(params, **({token_in: token} if token else {}))
        page = retrier.call(operation, partial(call, **request))
        yield page
        token = page.get(token_out)
        if not token:
            return
        if token in seen:  # a service bug must not become an endless loop
            raise AwsCallError(operation, "RepeatedPageToken", "the same page token came twice", 1)
        seen.add(token)
