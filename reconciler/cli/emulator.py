"""``reconciler emulator …`` commands."""

from __future__ import annotations

import re
import socket
from collections.abc import Sized
from dataclasses import replace
from pathlib import Path

import click

from reconciler.cli.options import FiniteFloat, output_options
from reconciler.emulator.app import Emulator
from reconciler.emulator.faults import Faults
from reconciler.emulator.fleet_file import desired_state_yaml, profile_upgrades
from reconciler.emulator.generate import generate_scenario
from reconciler.emulator.persistence import check_writable
from reconciler.emulator.scenario import (
    Account,
    Scenario,
    ScenarioError,
    demo_scenario_path,
    generate_account,
    load_scenario,
)
from reconciler.masking import register
from reconciler.masking.files import write_atomic
from reconciler.model.trust import ALLOWED_ENDPOINTS_ENV

__all__ = ["emulator"]


@click.group()
def emulator() -> None:
    """Run the CCE emulator."""


def _rate(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    if value is None:
        return None
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(?:/s)?", value.strip())
    if match is None or float(match.group(1)) <= 0:
        raise click.BadParameter("must be a positive number of requests per second, e.g. 50/s")
    return float(match.group(1))


def _probability(ctx: click.Context, param: click.Parameter, value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise click.BadParameter("must be a probability between 0 and 1")
    return value


@emulator.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535),
              help="TCP port (0 = any free).")
@click.option("--scenario", "scenario_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Scenario YAML (default: the packaged demo).")
@click.option("--project-id", help="Project id to serve (default: the scenario's).")
@click.option("--access-key", help="Access key to accept (with --secret-key).")
@click.option("--secret-key", help="Secret key to verify signatures with (with --access-key).")
@click.option("--token", help="X-Auth-Token to accept (default: the scenario's, else generated).")
@click.option("--time-scale", default=1.0, show_default=True, type=FiniteFloat(),
              help="Run emulated time this many times faster than real time.")
@click.option("--state-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Persist instances and tasks to this JSON file across restarts.")
@click.option("--latency-ms", default=0.0, show_default=True, type=FiniteFloat(min=0),
              help="Delay every response.")
@click.option("--error-rate", default=0.0, show_default=True, type=FiniteFloat(),
              callback=_probability, help="Probability of a 500.")
@click.option("--throttle-rate", default=0.0, show_default=True, type=FiniteFloat(),
              callback=_probability, help="Probability of a 429 with Retry-After.")
@click.option("--retry-after", "retry_after_s", default=1, show_default=True,
              type=click.IntRange(min=0), metavar="SECONDS",
              help="The Retry-After of the 429s (--throttle-rate, --rate-limit).")
@click.option("--rate-limit", callback=_rate, help="Requests per second before 429, e.g. 50/s.")
@click.option("--drop-rate", default=0.0, show_default=True, type=FiniteFloat(),
              callback=_probability,
              help="Probability of dropping the connection mid-response.")
@click.option("--rules", "rules_file", type=click.Path(dir_okay=False, path_type=Path),
              help="YAML file of failure_rules / precheck_rules / abnormal_rules added to the"
                   " scenario's (failed installs and upgrades, precheck risks, add-ons turning"
                   " abnormal; see docs/emulator.md). Re-read when it changes.")
@click.option("--generate", "generate", type=click.IntRange(1, 100_000), metavar="N",
              help="Serve a generated fleet of N labelled clusters instead of a scenario.")
@click.option("--seed", type=int, help="Seed of --generate's ids and versions (default 0).")
@click.option("--write-desired", "desired_file",
              type=click.Path(dir_okay=False, path_type=Path),
              help="With --generate: write a desired-state file of the fleet (labels, running"
                   " add-ons, a canary/prod/rest rollout) that plans with no changes.")
@output_options
def serve(host: str, port: int, scenario_file: Path | None, project_id: str | None,
          access_key: str | None, secret_key: str | None, token: str | None,
          time_scale: float, state_file: Path | None, latency_ms: float, error_rate: float,
          throttle_rate: float, retry_after_s: int, rate_limit: float | None,
          drop_rate: float, rules_file: Path | None, generate: int | None, seed: int | None,
          desired_file: Path | None) -> None:
    """Serve the CCE add-on API emulator over HTTP, with faults on demand.

    \b
    Examples:
      reconciler emulator serve --port 18080 --project-id P \\
          --access-key AK --secret-key SK --time-scale 10
      reconciler emulator serve --latency-ms 200 --throttle-rate 0.1 --retry-after 2 \\
          --error-rate 0.05 --drop-rate 0.02 --rules examples/scenarios/failures.yaml
      reconciler emulator serve --generate 50 --write-desired fleet.yaml --time-scale 10
    """
    import uvicorn  # only for serve: the other commands don't pay for loading it

    if (access_key is None) != (secret_key is None):
        raise click.UsageError("--access-key and --secret-key go together")
    if time_scale <= 0:
        raise click.BadParameter("must be > 0", param_hint="--time-scale")
    if generate is not None and scenario_file is not None:
        raise click.UsageError("--generate and --scenario are exclusive: serve a generated "
                               "fleet or a scenario file")
    if generate is None and (seed is not None or desired_file is not None):
        raise click.UsageError("--seed and --write-desired go with --generate N")
    if desired_file is not None and desired_file.is_dir():
        raise click.BadParameter(f"{desired_file} is a directory; give a file path",
                                 param_hint="--write-desired")
    if rules_file is not None and not rules_file.exists():
        # Usually the first step of a fix-and-resume walk-through: say how to start.
        raise click.BadParameter(f"{rules_file} does not exist; create it first (an empty file"
                                 " holds no rules yet: it is re-read whenever it changes)",
                                 param_hint="--rules")
    try:
        scenario = (generate_scenario(generate, seed=seed or 0) if generate is not None
                    else load_scenario(scenario_file or demo_scenario_path()))
    except ScenarioError as exc:
        raise click.ClickException(str(exc)) from exc
    account = _account(scenario.account, project_id, access_key, secret_key, token)
    # The flags' values are known to whoever typed them: masked from the banner
    # on. A generated key or a scenario's token is shown once, below, because
    # clients need it, and masked in everything after (logs, state file).
    register((secret_key, token))
    try:
        if state_file is not None:
            check_writable(state_file)  # now, not as a 500 on the first write
        emu = Emulator(scenario, account=account, time_scale=time_scale, state_file=state_file,
                       faults=Faults(latency_ms=latency_ms, error_rate=error_rate,
                                     throttle_rate=throttle_rate, retry_after_s=retry_after_s,
                                     rate_limit_per_s=rate_limit, drop_rate=drop_rate),
                       rules_file=rules_file)
    except ValueError as exc:  # a bad rules file; an unreadable, malformed or unwritable state file
        raise click.ClickException(str(exc)) from None
    # Bound here, not by uvicorn: with --port 0 the desired file and the banner
    # need the real port, and the banner then means "accepting connections".
    listener = _listen(host, port)
    bound_port: int = listener.getsockname()[1]
    endpoint = f"http://{_url_host(host)}:{bound_port}"
    upgrades: list[tuple[str, str, str]] = []
    try:
        if desired_file is not None:
            upgrades = _write_desired(desired_file, emu, scenario, endpoint, generate, seed)
    except BaseException:
        listener.close()
        raise
    click.echo(f"CCE emulator on http://{_url_host(host, wildcard_ok=True)}:{bound_port}  "
               f"(scenario {scenario.source})")
    click.echo(f"  project id : {account.project_id}")
    click.echo(f"  access key : {account.access_key}")
    if account.secret_generated:
        click.echo(f"  secret key : {account.secret_key}  (generated)")
    click.echo(f"  token      : {account.token}")
    faults = _faults_text(emu.faults, emu.scenario.failure_rules, emu.scenario.precheck_rules,
                          emu.scenario.abnormal_rules)
    click.echo(f"  faults     : {faults}")
    if rules_file is not None:
        click.echo(f"  rules      : {rules_file} (re-read when it changes)")
    if desired_file is not None:
        click.echo(f"  desired    : {desired_file} ({len(scenario.clusters)} clusters, waves "
                   "canary env=staging, prod env=prod, rest)")
        # The token is the one credential the banner always shows; a key pair in
        # the environment would win over it (and be refused here), hence unset.
        click.echo(f"  to plan it : unset HW_ACCESS_KEY HW_SECRET_KEY CLOUD_SDK_AK CLOUD_SDK_SK; "
                   f"export HW_AUTH_TOKEN={account.token}")
        # A port on this machine is not trusted by default (docs/trust-boundary.md):
        # the operator allows this endpoint, the file can't.
        click.echo(f"               export {ALLOWED_ENDPOINTS_ENV}={endpoint}"
                   f"   # or: --allow-endpoint {endpoint}")
        click.echo(f"               reconciler plan {desired_file}")
        if upgrades:  # the one-line edit that rolls something out
            name, pinned, newer = upgrades[0]
            click.echo(f"  roll out   : set {name} to {newer} (from {pinned}) under profiles.base"
                       f" in {desired_file}, then reconciler apply {desired_file}")
    register((account.secret_key, account.token))
    server = uvicorn.Server(uvicorn.Config(emu.app, log_level="warning", interface="asgi3"))
    server.run(sockets=[listener])


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``, or a one-line error (port in use…)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise click.ClickException(f"cannot listen on {host}:{port}: "
                                   f"{exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def _url_host(host: str, wildcard_ok: bool = False) -> str:
    """``host`` as a URL authority; a wildcard address is reached on loopback."""
    if not wildcard_ok and host in ("0.0.0.0", "", "::"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _write_desired(path: Path, emu: Emulator, scenario: Scenario, endpoint: str,
                   generate: int | None, seed: int | None) -> list[tuple[str, str, str]]:
    """What the fleet runs now (after a --state-file reload, too), as a desired-state
    file; the profile's add-ons that could be upgraded (for the banner)."""
    now = emu.clock()
    running = {c.id: [(i.template, i.version) for i in emu.store.list_instances(c.id, now)]
               for c in scenario.clusters}
    command = f"reconciler emulator serve --generate {generate}"
    if seed is not None:
        command += f" --seed {seed}"
    header = (f"Written by `{command}` for the emulator at {endpoint}.\n"
              "Every cluster runs exactly what is declared: `reconciler plan` of this file\n"
              "has no changes. Credentials come from the environment, never from this file:\n"
              "  export HW_AUTH_TOKEN=<the token the emulator printed>\n"
              f"and the endpoint is allowed by the operator, not by this file:\n"
              f"  export {ALLOWED_ENDPOINTS_ENV}={endpoint}\n"
              "What every cluster runs alike is in the profile `base` (`latest`: the newest\n"
              "version supporting each cluster's Kubernetes version). Edit a version there,\n"
              "e.g. everest to its newest, and `reconciler apply` rolls it out wave by wave.")
    text = desired_state_yaml(scenario.clusters, running, endpoint=endpoint,
                              project_id=emu.account.project_id, region=_REGION, header=header,
                              templates=scenario.templates)
    try:
        if path.parent != Path(""):
            path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, text, mode=0o644)  # a shared file, like a plan
    except OSError as exc:
        raise click.ClickException(f"{path}: cannot write the desired-state file: "
                                   f"{exc.strerror or exc}") from None
    return profile_upgrades(scenario.clusters, running, scenario.templates)


_REGION = "ap-southeast-1"
"""The region the packaged scenarios' clusters live in (any name works here)."""


def _faults_text(faults: Faults, failure_rules: Sized, precheck_rules: Sized,
                 abnormal_rules: Sized) -> str:
    """What the banner says is injected, so a test run's setup is on record."""
    parts = [f"latency {faults.latency_ms:g} ms"] if faults.latency_ms else []
    if faults.error_rate:
        parts.append(f"500s {faults.error_rate:.0%}")
    if faults.throttle_rate:
        parts.append(f"429s {faults.throttle_rate:.0%} (Retry-After {faults.retry_after_s}s)")
    if faults.rate_limit_per_s:
        parts.append(f"rate limit {faults.rate_limit_per_s:g}/s")
    if faults.drop_rate:
        parts.append(f"dropped connections {faults.drop_rate:.0%}")
    parts.append(f"{len(failure_rules)} failure rule(s), {len(precheck_rules)} precheck rule(s)"
                 + (f", {len(abnormal_rules)} abnormal rule(s)" if abnormal_rules else ""))
    return ", ".join(parts)


def _account(base: Account | None, project_id: str | None, access_key: str | None,
             secret_key: str | None, token: str | None) -> Account:
    """Flags override the scenario's account field by field; what neither gives is generated."""
    account = base or generate_account(project_id)
    if project_id:
        account = replace(account, project_id=project_id)
    if access_key is not None and secret_key is not None:
        account = replace(account, access_key=access_key, secret_key=secret_key,
                          secret_generated=False)
    if token:
        account = replace(account, token=token)
    return account
