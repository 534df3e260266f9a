"""The official CCE endpoint of each Huawei Cloud region, as data.

Copied from the region table of the official Python SDK
(``huaweicloudsdkcce/v3/region/cce_region.py``), which the test suite checks
this table against; the SDK itself is a test dependency only. Most regions
are on ``myhuaweicloud.com``; the European sovereign region is on
``myhuaweicloud.eu``. A region missing here has no endpoint the files can use
without the operator allowing it (``model/trust.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["CCE_HOSTS", "official_endpoint"]

CCE_HOSTS: Mapping[str, str] = MappingProxyType({
    "ae-ad-1": "cce.ae-ad-1.myhuaweicloud.com",
    "af-north-1": "cce.af-north-1.myhuaweicloud.com",
    "af-south-1": "cce.af-south-1.myhuaweicloud.com",
    "ap-southeast-1": "cce.ap-southeast-1.myhuaweicloud.com",
    "ap-southeast-2": "cce.ap-southeast-2.myhuaweicloud.com",
    "ap-southeast-3": "cce.ap-southeast-3.myhuaweicloud.com",
    "ap-southeast-4": "cce.ap-southeast-4.myhuaweicloud.com",
    "ap-southeast-5": "cce.ap-southeast-5.myhuaweicloud.com",
    "cn-east-2": "cce.cn-east-2.myhuaweicloud.com",
    "cn-east-3": "cce.cn-east-3.myhuaweicloud.com",
    "cn-east-4": "cce.cn-east-4.myhuaweicloud.com",
    "cn-east-5": "cce.cn-east-5.myhuaweicloud.com",
    "cn-north-1": "cce.cn-north-1.myhuaweicloud.com",
    "cn-north-11": "cce.cn-north-11.myhuaweicloud.com",
    "cn-north-12": "cce.cn-north-12.myhuaweicloud.com",
    "cn-north-2": "cce.cn-north-2.myhuaweicloud.com",
    "cn-north-4": "cce.cn-north-4.myhuaweicloud.com",
    "cn-north-9": "cce.cn-north-9.myhuaweicloud.com",
    "cn-south-1": "cce.cn-south-1.myhuaweicloud.com",
    "cn-south-2": "cce.cn-south-2.myhuaweicloud.com",
    "cn-south-4": "cce.cn-south-4.myhuaweicloud.com",
    "cn-southwest-2": "cce.cn-southwest-2.myhuaweicloud.com",
    "eu-west-0": "cce.eu-west-0.myhuaweicloud.com",
    "eu-west-101": "cce.eu-west-101.myhuaweicloud.eu",
    "la-north-2": "cce.la-north-2.myhuaweicloud.com",
    "la-south-2": "cce.la-south-2.myhuaweicloud.com",
    "me-east-1": "cce.me-east-1.myhuaweicloud.com",
    "my-kualalumpur-1": "cce.my-kualalumpur-1.myhuaweicloud.com",
    "na-mexico-1": "cce.na-mexico-1.myhuaweicloud.com",
    "ru-moscow-1": "cce.ru-moscow-1.myhuaweicloud.com",
    "ru-northwest-2": "cce.ru-northwest-2.myhuaweicloud.com",
    "sa-brazil-1": "cce.sa-brazil-1.myhuaweicloud.com",
    "tr-west-1": "cce.tr-west-1.myhuaweicloud.com",
})
"""Region id → host of its CCE endpoint (always https)."""


def official_endpoint(region: str) -> str | None:
    """``https://HOST`` of ``region``'s CCE endpoint, None for a region not in the table."""
    host = CCE_HOSTS.get(region)
    return f"https://{host}" if host else None
