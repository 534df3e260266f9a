"""Build the official SDK client against an emulator endpoint."""

from __future__ import annotations

from typing import Any

from huaweicloudsdkcce.v3 import CceClient
from huaweicloudsdkcore.auth.credentials import BasicCredentials

from reconciler.emulator import Account

PROD = "6b400e1c-4368-11f0-ba56-0255ac100037"
STAGING = "7c1f5a2e-4368-11f0-ba56-0255ac100037"
LEGACY = "8d2e6b3f-4368-11f0-ba56-0255ac100037"
PROD_COREDNS = "8fcaa506-4368-11f0-ba56-0255ac100037"


def sdk_client(url: str, account: Account, secret_key: str | None = None) -> Any:
    credentials = BasicCredentials(account.access_key, secret_key or account.secret_key,
                                   account.project_id)
    return CceClient.new_builder().with_credentials(credentials).with_endpoints([url]).build()
