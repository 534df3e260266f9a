"""When drift notifies: the digest of the drift set and the decision, over model data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from reconciler.model.diagnostics import Diagnostic
from reconciler.model.drift import AddonDrift, ClusterDrift, DriftKind, DriftReport
from reconciler.notify.drift import DriftMemory, decide, drift_digest, memory_key

NOW = datetime(2026, 12, 8, 3, 0, tzinfo=UTC)


def report(*clusters: ClusterDrift) -> DriftReport:
    return DriftReport(clusters=clusters, generated_at="2026-12-08T03:00:00Z", tool_version="t")


def drifted(name: str, *kinds: DriftKind, addon: str = "coredns") -> ClusterDrift:
    return ClusterDrift(name=name, cluster_id="id-" + name,
                        addons=(AddonDrift(addon=addon, kinds=kinds),))


def memory(digest: str, ago: timedelta = timedelta(0)) -> DriftMemory:
    return DriftMemory(digest, (NOW - ago).strftime("%Y-%m-%dT%H:%M:%SZ"))


def test_found_changed_cleared_and_quiet_in_between() -> None:
    one = drift_digest(report(drifted("a", DriftKind.VALUES), drifted("b")))
    assert decide(None, one, NOW, None) == ("drift.found", False)
    assert decide(memory(one), one, NOW, None) is None
    two = drift_digest(report(drifted("a", DriftKind.VALUES, DriftKind.VERSION), drifted("b")))
    assert two != one
    assert decide(memory(one), two, NOW, None) == ("drift.changed", False)
    clean = drift_digest(report(drifted("a"), drifted("b")))
    assert decide(memory(two), clean, NOW, None) == ("drift.cleared", False)
    assert decide(memory(clean), clean, NOW, 1.0) is None
    assert decide(None, clean, NOW, None) is None


def test_an_unmanaged_addon_alone_is_not_drift_but_an_error_is() -> None:
    assert drift_digest(report(drifted("a", DriftKind.UNMANAGED))) == ""
    error = Diagnostic(file="f.yaml", line=1, column=1, key_path="clusters.a",
                       message="unreachable")
    errored = report(ClusterDrift(name="a", cluster_id="x", errors=(error,)))
    assert decide(None, drift_digest(errored), NOW, None) == ("drift.found", False)


def test_a_reminder_comes_once_the_repeat_has_passed() -> None:
    digest = drift_digest(report(drifted("a", DriftKind.MISSING)))
    assert decide(memory(digest, timedelta(hours=23)), digest, NOW, 86400) is None
    assert decide(memory(digest, timedelta(hours=25)), digest, NOW, 86400) == (
        "drift.found", True)


def test_the_memory_is_per_set_of_clusters_and_survives_garbage() -> None:
    assert memory_key(report(drifted("a"))) != memory_key(report(drifted("a"), drifted("b")))
    assert memory_key(report(drifted("b"), drifted("a"))) == memory_key(
        report(drifted("a"), drifted("b")))
    kept = memory("abc")
    assert DriftMemory.from_bytes(kept.to_bytes()) == kept
    assert DriftMemory.from_bytes(b"not json") is None
    assert DriftMemory.from_bytes(None) is None
