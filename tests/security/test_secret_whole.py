"""A secret is used whole or not at all.

``secret(name)`` renders a placeholder the loader later replaces by the value.
Any transformation would act on the placeholder, not on the value: before,
``[0:5]`` gave ``"RECON"``, ``|replace`` sent placeholder debris to the cloud,
``|upper`` and friends were dropped and the raw secret sent, ``.startswith()``
was always false. Each is now an error at file:line; nothing is sent; the
secret shows nowhere. Whole use, also inside a longer string, still works (the
end-to-end harnesses apply it). The send boundary refuses a body that still
holds a placeholder, whatever let it through.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.cloud import CloudSession, Credentials
from reconciler.cloud.errors import PlaceholderError
from reconciler.cloud.transport import InProcessTransport
from reconciler.config.options import load_from_options
from reconciler.emulator import Emulator, load_scenario
from reconciler.emulator.scenario import demo_scenario_path
from reconciler.model.trust import EnvRule
from tests.conftest import FakeClock
from tests.security.test_leaks_everywhere import STAGING_ID

__all__: list[str] = []

MARK = "Whole-Secret-Mark-5c1d"
LINE = 16
"""The line of the transformed expression in the file below."""

TRANSFORMS = {
    "slice": "secret('X')[0:5]",
    "index": "secret('X')[0]",
    "replace": "secret('X')|replace('S', 'Z')",
    "upper": "secret('X')|upper",
    "lower": "secret('X')|lower",
    "title": "secret('X')|title",
    "urlencode": "secret('X')|urlencode",
    "trim": "secret('X')|trim",
    "e": "secret('X')|e",
    "default": "secret('X')|default('x')",
    "as filter argument": "'a-b'|replace('-', secret('X'))",
    "startswith": "secret('X').startswith('W')",
    "tilde": "secret('X') ~ 'x'",
    "tilde left": "'x' ~ secret('X')",
    "plus": "secret('X') + 'x'",
    "plus left": "'x' + secret('X')",
    "percent": "'%s' % secret('X')",
    "test": "secret('X') is string",
    "comparison": "secret('X') == 'x'",
    "in": "'W' in secret('X')",
    "via set": "s ~ 'x'",
}


def _file(expression: str) -> str:
    return (
        "apiVersion: reconciler/v1\n"
        "defaults:\n"
        "  region: ap-southeast-1\n"
        '  project_id: "0504201b6c80256b2f08c0099f0c8fe4"\n'
        "  endpoint: emulator://demo\n"
        "clusters:\n"
        "  demo-staging:\n"
        f"    cluster_id: {STAGING_ID}\n"
        "    addons:\n"
        "      coredns:\n"
        "        version: 1.30.33\n"
        '        flavor: "2500"\n'
        "        values:\n"
        "          custom:\n"
        "{% set s = secret('X') %}\n"
        f'            upstream_header: "{{{{ {expression} }}}}"\n'
    )


@pytest.mark.parametrize("expression", TRANSFORMS.values(), ids=list(TRANSFORMS))
@pytest.mark.parametrize("command", ["validate", "plan"])
def test_a_transformed_secret_is_an_error_at_its_line(
    expression: str, command: str, tmp_path: Path
) -> None:
    desired = tmp_path / "desired.yaml"
    desired.write_text(_file(expression), encoding="utf-8")
    env = {"X": MARK, "RECONCILER_ALLOW_ENV": "X", "NO_COLOR": "1", "HW_ACCESS_KEY": "ak-1234",
           "HW_SECRET_KEY": "sk-1234"}
    result = CliRunner(env=env).invoke(cli, [command, str(desired)], catch_exceptions=False)
    assert result.exit_code == 1, result.output
    assert f"desired.yaml:{LINE}:" in result.stderr
    assert "secret('X') is used whole or not at all" in result.stderr
    assert "nothing was sent" in result.stderr
    for text in (result.stdout, result.stderr):
        for piece in (MARK, MARK.upper(), MARK.lower(), MARK[:5], "RECONCILERSECRET"):
            assert piece not in text


def test_whole_use_renders_the_value(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    desired = tmp_path / "desired.yaml"
    desired.write_text(_file("s").replace("{{ s }}", "Bearer {{ s }} {{ secret('X') }}"),
                       encoding="utf-8")
    monkeypatch.setenv("X", MARK)
    loaded = load_from_options([str(desired)], var_assignments=(), var_files=(), clusters=(),
                               endpoint=None, allowed_env=EnvRule.of(["X"]))
    coredns = loaded.clusters[0].addons[0]
    assert coredns.values["custom"]["upstream_header"] == f"Bearer {MARK} {MARK}"
    assert coredns.secret_templates == {"custom.upstream_header": "Bearer ${X} ${X}"}


async def test_a_body_holding_a_placeholder_is_never_sent() -> None:
    emulator = Emulator(load_scenario(demo_scenario_path()), clock=FakeClock())
    account = emulator.account
    credentials = Credentials(access_key=account.access_key, secret_key=account.secret_key)
    async with CloudSession(credentials=credentials,
                            transport=InProcessTransport(emulator.app)) as session:
        client = session.client("http://cce.local", "ap-southeast-1", account.project_id)
        before = await client.list_instances(STAGING_ID)
        coredns = next(i for i in before if i.template_name == "coredns")
        values = {**coredns.values,
                  "custom": {"upstream_header": "Bearer reconcilersecret1a2b3c4dN7Z"}}
        with pytest.raises(PlaceholderError, match="nothing was sent") as caught:
            await client.update(coredns.uid, STAGING_ID, "coredns", coredns.version, values,
                                upgrade=False)
        assert not caught.value.ambiguous
        after = await client.list_instances(STAGING_ID)
    assert [i.values for i in after] == [i.values for i in before]
    assert [i.updated_at for i in after] == [i.updated_at for i in before]
