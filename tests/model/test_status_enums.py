"""Status-like fields are StrEnums: their text is the plain value everywhere."""

from __future__ import annotations

import json

import pytest

from reconciler.model.desired import OnFailure
from reconciler.model.diagnostics import Diagnostic, Severity
from reconciler.model.plan import FindingLevel, FindingStatus, PrecheckFinding


@pytest.mark.parametrize("member", [*Severity, *OnFailure, *FindingLevel, *FindingStatus])
def test_text_is_the_value(member: Severity | OnFailure | FindingLevel | FindingStatus) -> None:
    assert member == member.value
    assert f"{member}" == str(member) == member.value
    assert json.dumps(member) == json.dumps(member.value)


def test_diagnostic_text_uses_the_plain_severity() -> None:
    d = Diagnostic("d.yaml", 3, 5, "clusters.a", "bad", severity=Severity.WARNING)
    assert str(d) == "d.yaml:3:5: warning: clusters.a: bad"


@pytest.mark.parametrize(("wire", "level"), [
    ("Warning", FindingLevel.WARNING),
    ("Fatal", FindingLevel.FATAL),
    ("Critical", FindingLevel.FATAL),  # unknown to us: cannot be accepted, so it blocks
    ("", FindingLevel.FATAL),
])
def test_a_server_risk_level_maps_fail_closed(wire: str, level: FindingLevel) -> None:
    assert FindingLevel.of_risk(wire) is level
    finding = PrecheckFinding(addon="a", risk="r", level=FindingLevel.of_risk(wire),
                              status=FindingStatus.FAILED, accepted=True)
    assert finding.blocking is (level is FindingLevel.FATAL)
