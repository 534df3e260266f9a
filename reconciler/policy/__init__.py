"""Policy as code: the operator's Rego policies evaluated against each plan.

``input`` builds the document policies read (Terraform-shaped
``resource_changes``); ``rego`` loads the policy files and evaluates them with
the embedded OPA Rego runtime (regopy). The results are ``model.policy``
objects; ``views`` renders them and ``cli`` decides the exit code.
"""

from __future__ import annotations

from reconciler.policy.input import ACTIONS, POLICY_INPUT_VERSION, policy_input, resource_changes
from reconciler.policy.rego import (
    DEFAULT_NAMESPACE,
    PolicyError,
    PolicySet,
    evaluate,
    load_policies,
    unused_acceptances,
)

__all__ = [
    "ACTIONS",
    "DEFAULT_NAMESPACE",
    "POLICY_INPUT_VERSION",
    "PolicyError",
    "PolicySet",
    "evaluate",
    "load_policies",
    "policy_input",
    "resource_changes",
    "unused_acceptances",
]
