"""Desired-state files → ``DesiredState``: render, parse, validate, check, build.

Every stage collects diagnostics instead of stopping at the first; a file
whose rendering or YAML fails skips the later stages (their errors would only
echo the first one), other files still go through all of them. Nothing here
touches the network.

How variables reach a file, later winning: the file's own ``vars:`` block <
``--var-file`` files (in order) < ``--var k=v``. The ``vars:`` block is read
in first, lenient passes over the file (so it may use ``env()``, the
command-line variables and each other, in any order); the second, strict pass
renders the whole file with the merged variables.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets as random_tokens
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from reconciler.config.build import build_clusters
from reconciler.config.files import UnreadableFile, kind_of, read_limited
from reconciler.config.linemap import LineMap
from reconciler.config.profiles import profiles_of
from reconciler.config.render import SecretTokens, render
from reconciler.config.rollout import (
    build_rollout,
    rollout_block,
    rollout_coverage,
    rollout_diagnostics,
)
from reconciler.config.schemacheck import schema_diagnostics
from reconciler.config.semantic import semantic_diagnostics
from reconciler.config.source import SourceFile, dotted
from reconciler.config.trustcheck import endpoint_diagnostic, state_diagnostic
from reconciler.config.unused import unused_profiles, unused_variables, unused_wave_selectors
from reconciler.config.varrefs import VarsLoop, vars_loop
from reconciler.config.yamlnodes import Position, YamlSyntaxError, compose, paused_gc, to_data
from reconciler.kit.selectors import PatternKind, SelectorError, parse_pattern
from reconciler.model.desired import ClusterSpec, DesiredState
from reconciler.model.diagnostics import Diagnostic, InputError
from reconciler.model.sensitive import published_salt, sensitive_hash
from reconciler.model.trust import NO_VARIABLES, ONLY_OFFICIAL, EndpointRule, EnvRule

__all__ = ["expand_paths", "load_desired", "read_var_file"]

_ENDPOINT = re.compile(r"^(https?|emulator)://\S+$")
_HAS_VARS_BLOCK = re.compile(r"^vars\s*:", re.MULTILINE)
_VARS_ROUNDS = 10
"""Lenient renders of a ``vars:`` block before its entries count as circular."""


def load_desired(
    paths: Sequence[str | Path],
    *,
    variables: Mapping[str, str] = {},  # read-only; the agreed API
    var_files: Sequence[str | Path] = (),
    clusters: Sequence[str] = (),
    endpoint: str | None = None,
    environ: Mapping[str, str] | None = None,
    need_secrets: bool = True,
    allowed_endpoints: EndpointRule = ONLY_OFFICIAL,
    allowed_env: EnvRule = NO_VARIABLES,
) -> DesiredState:
    """Load, validate and select; raises ``InputError`` with every problem found.

    ``need_secrets=False`` is for ``validate``: an unset ``secret()`` variable is
    not an error there (a lint job has no secrets), its value is a placeholder.
    ``allowed_endpoints`` and ``allowed_env`` are the operator's (``model/trust.py``):
    an endpoint or state URL the files name outside them, or an ``env()``/``secret()``
    of a variable outside them, is an error. ``endpoint`` is the operator's too."""
    if endpoint is not None:
        allowed_endpoints = EndpointRule((*allowed_endpoints.allowed, endpoint),
                                         state_given=allowed_endpoints.state_given)
    with paused_gc():
        return _load(paths, variables, var_files, clusters, endpoint, environ, need_secrets,
                     allowed_endpoints, allowed_env)


def _load(
    paths: Sequence[str | Path],
    variables: Mapping[str, str],
    var_files: Sequence[str | Path],
    clusters: Sequence[str],
    endpoint: str | None,
    environ: Mapping[str, str] | None,
    need_secrets: bool,
    allowed_endpoints: EndpointRule,
    allowed_env: EnvRule,
) -> DesiredState:
    environ = os.environ if environ is None else environ
    problems: list[Diagnostic] = []
    files = expand_paths(paths, problems)
    outer_vars: dict[str, Any] = {}
    set_by: dict[str, str] = {}
    for var_file in var_files:
        read = read_var_file(str(var_file), problems)
        outer_vars.update(read)
        set_by.update(dict.fromkeys(read, str(var_file)))
    outer_vars.update(variables)
    set_by.update(dict.fromkeys(variables, "--var"))
    if endpoint is not None and not _ENDPOINT.match(endpoint):
        problems.append(
            Diagnostic(
                "--endpoint",
                0,
                0,
                "",
                f"invalid endpoint {endpoint!r}",
                "https://… or emulator://NAME",
            )
        )
    tokens = SecretTokens(random_tokens.token_hex(4))
    sources: list[SourceFile] = []
    for file in files:
        source = _load_file(file, outer_vars, environ, tokens, problems, need_secrets,
                            allowed_env)
        if source is not None:
            problems.extend(schema_diagnostics(source))
            sources.append(source)
    problems.extend(semantic_diagnostics(sources, all_read=len(sources) == len(files)))
    state_url = _state_block(sources, problems, allowed_endpoints)
    rollout_found = rollout_block(sources, problems)
    if rollout_found is not None:
        problems.extend(rollout_diagnostics(*rollout_found))
    profiles = profiles_of(sources)
    specs: list[ClusterSpec] = []
    refused: set[Diagnostic] = set()  # one per `defaults.endpoint`, not one per cluster
    if not any(p.severity == "error" for p in problems):
        for source in sources:
            for spec in build_clusters(source, endpoint, profiles):
                refusal = endpoint_diagnostic(source, spec, allowed_endpoints)
                if refusal is not None and refusal not in refused:
                    refused.add(refusal)
                    problems.append(refusal)
                specs.append(spec)
                # Its nodes placed every location it needs: free them before the
                # next cluster's (peak memory of a 10,000-cluster file). Profile
                # nodes stay: every cluster using the profile reads them.
                source.nodes.release(("clusters", spec.name))
    rollout = build_rollout(*rollout_found) if rollout_found is not None and specs else None
    if rollout is not None and rollout_found is not None:
        problems.extend(rollout_coverage(rollout, rollout_found[0], specs))
    selected = _select(specs, clusters, problems)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise InputError(_ordered(problems, [str(f) for f in files]))
    warnings = unused_variables((s.source for s in sources), set_by)
    warnings += unused_profiles(sources, profiles, specs)
    if rollout is not None and rollout_found is not None:
        warnings += unused_wave_selectors(rollout, rollout_found[0], specs)
    return DesiredState(
        clusters=tuple(selected),
        files=tuple(str(f) for f in files),
        digest=_digest(sources, clusters, endpoint),
        state_url=state_url,
        rollout=rollout,
        profiles=tuple(profiles),
        warnings=tuple(warnings),
    )


def _state_block(sources: Sequence[SourceFile], problems: list[Diagnostic],
                 allowed: EndpointRule) -> str | None:
    """The one ``state: {url: …}`` of the files; two files naming different stores
    is an error (a run can't write to both), and so is one naming a place the
    operator has not allowed (unless the operator gives the state, so the
    files' is not used)."""
    first: tuple[SourceFile, str] | None = None
    for source in sources:
        block = source.data.get("state") if isinstance(source.data, dict) else None
        url = block.get("url") if isinstance(block, dict) else None
        if not isinstance(url, str):
            continue
        if first is None:
            first = (source, url)
            refused = None if allowed.state_given else state_diagnostic(source, url, allowed)
            if refused is not None:
                problems.append(refused)
        elif url != first[1]:
            problems.append(source.diagnostic(
                ("state", "url"),
                f"conflicting `state:` blocks: {first[0].path} says {first[1]!r}, this file"
                f" says {url!r}",
                "give the state block in one file only (or the same URL in each)",
                at_value=True))
    return first[1] if first else None


_API_VERSION_LINE = re.compile(r"^[\"']?apiVersion[\"']?[ \t]*:", re.MULTILINE)


def _is_desired_state(path: Path) -> bool:
    """Whether a YAML file found in a directory is a desired-state file: one that
    has a top-level ``apiVersion:`` line (every desired-state file must). Var files
    kept beside them (``prod.vars.yaml``) have none and are skipped. Decided on the
    raw text: a desired-state file is a Jinja2 template, not YAML, until rendered.
    An unreadable file is kept, so that loading it says why."""
    try:
        return bool(_API_VERSION_LINE.search(read_limited(str(path), "a YAML file")))
    except UnreadableFile:
        return True


def expand_paths(paths: Sequence[str | Path], problems: list[Diagnostic]) -> list[str]:
    """Files as given; directories → their desired-state *.yaml / *.yml files (those
    with a top-level ``apiVersion:``; ``_is_desired_state``), sorted (not recursive)."""
    if not paths:
        problems.append(
            Diagnostic(
                "",
                0,
                0,
                "",
                "no desired-state files given",
                "pass one or more YAML files or directories",
            )
        )
    files: list[str] = []
    seen: set[Path] = set()
    for given in paths:
        path = Path(given)
        if path.is_dir():
            yaml_files = sorted(
                p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file()
            )
            found = [p for p in yaml_files if _is_desired_state(p)]
            if not found:
                problems.append(
                    Diagnostic(
                        str(given), 0, 0, "",
                        "directory has no desired-state files"
                        + (f" (its {len(yaml_files)} YAML file(s) have no top-level"
                           " `apiVersion:`, so they are taken for var files)"
                           if yaml_files else " (no *.yaml or *.yml files)"),
                        "add `apiVersion: reconciler/v1` at the top of each desired-state"
                        " file, or name the file itself",
                    )
                )
            found_new = [p for p in found if p.resolve() not in seen]
            seen.update(p.resolve() for p in found_new)
            files.extend(str(p) for p in found_new)
        elif path.is_file():
            if path.resolve() not in seen:  # a file also named through its directory
                seen.add(path.resolve())
                files.append(str(given))
        else:
            problems.append(Diagnostic(str(given), 0, 0, "", _not_a_file(path)))
    return files


def _not_a_file(path: Path) -> str:
    """Why ``path`` (neither a regular file nor a directory) can't be read."""
    try:
        mode = path.stat().st_mode
    except OSError as err:
        if isinstance(err, FileNotFoundError):
            return "no such file or directory"
        return f"cannot read file: {err.strerror or err}"
    return f"is {kind_of(mode)}, expected a desired-state YAML file or a directory of them"


def _read(path: str, expected: str, what: str, problems: list[Diagnostic]) -> str | None:
    try:
        return read_limited(path, expected)
    except UnreadableFile as err:
        message = f"cannot read {what}: {err}" if err.os_error else str(err)
        problems.append(Diagnostic(path, 0, 0, "", message))
        return None


def read_var_file(path: str, problems: list[Diagnostic]) -> dict[str, Any]:
    """A ``--var-file``: a plain YAML mapping (not rendered by Jinja2)."""
    text = _read(path, "a YAML var file", "var file", problems)
    if text is None:
        return {}
    try:
        root = compose(text)
    except YamlSyntaxError as err:
        problems.append(_syntax_diagnostic(err, path, None))
        return {}
    data, duplicates = to_data(root) if root is not None else ({}, [])
    for duplicate in duplicates:
        problems.append(
            Diagnostic(
                path,
                duplicate.at.line,
                duplicate.at.column,
                dotted(duplicate.path),
                "duplicate key",
                f"first at line {duplicate.first.line}",
            )
        )
    if not isinstance(data, dict):
        problems.append(
            Diagnostic(
                path,
                1,
                1,
                "",
                "a var file must be a mapping of name → value",
                "e.g. `metrics_version: 1.3.6`",
            )
        )
        return {}
    return data


def _load_file(
    file: str,
    outer_vars: Mapping[str, Any],
    environ: Mapping[str, str],
    tokens: SecretTokens,
    problems: list[Diagnostic],
    need_secrets: bool,
    allowed_env: EnvRule,
) -> SourceFile | None:
    text = _read(file, "a desired-state YAML file", "file", problems)
    if text is None:
        return None
    block, yaml_error = _file_vars(text, file, outer_vars, environ, tokens, problems,
                                   allowed_env)
    if yaml_error is not None:
        # The `vars:` block could not be read because the YAML is broken: every
        # "undefined variable `vars.…`" the strict pass would report is only an echo of it.
        problems.append(yaml_error)
        return None
    variables = {**block, **outer_vars}
    rendered = render(
        text, file, variables=variables, environ=environ, tokens=tokens, need_secrets=need_secrets,
        allowed_env=allowed_env,
    )
    for problem in rendered.problems:
        problems.append(
            Diagnostic(file, problem.line, problem.column, "", problem.message, problem.hint)
        )
    if rendered.text is None or rendered.problems:
        return None
    try:
        root = compose(rendered.text)
    except YamlSyntaxError as err:
        problems.append(_syntax_diagnostic(err, file, LineMap(text, rendered.text)))
        return None
    if root is None:
        problems.append(
            Diagnostic(
                file,
                1,
                1,
                "",
                "the file is empty",
                "start with `apiVersion: reconciler/v1` and `clusters:`",
            )
        )
        return None
    data, duplicates = to_data(root)
    source = SourceFile(file, text, rendered.text, root, data, rendered.secrets, tokens.pattern)
    for duplicate in duplicates:
        first = source.linemap.source_position(duplicate.first.line, duplicate.first.column)
        problems.append(
            source.diagnostic_at(
                duplicate.at,
                duplicate.path,
                f"duplicate key `{duplicate.path[-1]}`",
                f"first defined at line {first.line}; YAML would silently keep only one, so "
                "remove or merge them",
            )
        )
    return source


def _syntax_diagnostic(err: YamlSyntaxError, file: str, linemap: LineMap | None) -> Diagnostic:
    """A YAML syntax error at its source position, with where the broken construct began."""

    def mapped(at: Position) -> tuple[int, int, str]:
        if linemap is None:
            return at.line, at.column, ""
        position = linemap.source_position(at.line, at.column)
        note = ""
        if not position.exact:
            note = (
                f" [position approximate: Jinja2 block tags move lines; line "
                f"{position.rendered_line} of the rendered file]"
            )
        return position.line, position.column, note

    line = column = 0
    message = err.message
    if err.at is not None:
        line, column, note = mapped(err.at)
        message += note
    if err.context:
        message += f" ({err.context}"
        if err.context_at is not None:
            context_line, context_column, _ = mapped(err.context_at)
            message += f" that starts at line {context_line}, column {context_column}"
        message += ")"
    return Diagnostic(file, line, column, "", message, err.hint)


def _file_vars(
    text: str,
    file: str,
    outer_vars: Mapping[str, Any],
    environ: Mapping[str, str],
    tokens: SecretTokens,
    problems: list[Diagnostic],
    allowed_env: EnvRule,
) -> tuple[dict[str, Any], Diagnostic | None]:
    """The file's own ``vars:`` block, its entries resolved against each other,
    or the YAML syntax error that kept it from being read.

    Lenient renders (undefined → empty) repeated until the block stops
    changing, so an entry may use another entry whatever their order. The
    strict second pass then reports whatever is still undefined.
    """
    found = _HAS_VARS_BLOCK.search(text)
    if found is None:
        return {}, None
    block: dict[str, Any] = {}
    for _ in range(_VARS_ROUNDS):
        variables = {**block, **outer_vars}
        lenient = render(
            text, file, variables=variables, environ=environ, tokens=tokens, strict=False,
            allowed_env=allowed_env,
        )
        if lenient.text is None:
            return block, None  # the strict pass reports the Jinja2 problem
        try:
            root = compose(lenient.text)
        except YamlSyntaxError as err:
            return block, _syntax_diagnostic(err, file, LineMap(text, lenient.text))
        data, _ = to_data(root) if root is not None else (None, [])
        new_block = data.get("vars") if isinstance(data, dict) else None
        if not isinstance(new_block, dict):
            return {}, None
        if new_block == block:
            # Settled; a loop whose values don't grow settles too (on "").
            if (loop := vars_loop(text, root, lenient.text, outer_vars)) is not None:
                problems.append(_loop_diagnostic(file, loop))
            return block, None
        block = new_block
    # Still growing: a loop, named if the template's text shows it.
    loop = vars_loop(text, root, lenient.text or "", outer_vars) or VarsLoop(
        [], text.count("\n", 0, found.start()) + 1, 1)
    problems.append(_loop_diagnostic(file, loop))
    return block, None


def _loop_diagnostic(file: str, loop: VarsLoop) -> Diagnostic:
    return Diagnostic(
        file, loop.line, loop.column, f"vars.{loop.names[0]}" if loop.names else "vars",
        "the entries of `vars:` refer to each other in a loop"
        + (f": {loop.text()}" if loop.names else ""),
        "make sure no entry depends, directly or through others, on itself",
    )


def _select(
    specs: list[ClusterSpec], names: Sequence[str], problems: list[Diagnostic]
) -> list[ClusterSpec]:
    """``--cluster`` names, glob patterns (``prod-*``) or label selectors
    (``env=prod``); each must match a cluster."""
    if not names:
        return specs
    known = [spec.name for spec in specs]
    wanted: set[str] = set()
    for name in dict.fromkeys(names):
        try:
            pattern = parse_pattern(name)
        except SelectorError as err:
            problems.append(Diagnostic(
                "--cluster", 0, 0, "", f"invalid --cluster: {err}",
                "write a cluster name, a glob (prod-*) or a label selector (env=prod, "
                "tier in (gold,silver))"))
            continue
        matched = [spec.name for spec in specs if pattern.matches(spec.name, spec.labels)]
        wanted.update(matched)
        if matched or not specs:  # without specs (earlier errors) nothing can be told apart
            continue
        if pattern.kind is PatternKind.NAME:
            message = f"unknown cluster `{name}`"
        else:
            what = "selector" if pattern.kind is PatternKind.SELECTOR else "pattern"
            message = f"--cluster {what} `{name}` matches no cluster"
        hint = "clusters in these files: " + (", ".join(known) or "none")
        if pattern.kind is PatternKind.SELECTOR:
            hint = "labels in these files: " + (_labels_known(specs) or "none")
        problems.append(Diagnostic("--cluster", 0, 0, "", message, hint))
    return [spec for spec in specs if spec.name in wanted]


def _labels_known(specs: Sequence[ClusterSpec]) -> str:
    pairs = sorted({f"{key}={value}" for spec in specs for key, value in spec.labels.items()})
    shown = ", ".join(pairs[:20])
    return shown + (f" and {len(pairs) - 20} more" if len(pairs) > 20 else "")


def _ordered(problems: list[Diagnostic], files: list[str]) -> list[Diagnostic]:
    """Command-line problems first, then by file order, line and column."""
    rank = {file: i + 1 for i, file in enumerate(files)}
    return sorted(problems, key=lambda p: (rank.get(p.file, 0), p.line, p.column))


def _digest(sources: list[SourceFile], clusters: Sequence[str], endpoint: str | None) -> str:
    """sha256 over the rendered files, each secret replaced by a salted hash of its value.

    Where the files live is not part of the desired state: the same files in
    another checkout (CI, a colleague's clone) give the same digest."""
    digest = hashlib.sha256()
    for source in sources:

        def hashed(match: re.Match[str], source: SourceFile = source) -> str:
            use = source.secrets.get(match.group(0))
            if use is None:
                return match.group(0)
            # The digest is in every saved plan, beside files anyone with the
            # repository has: a published salt, so guessing the secret is slow.
            return sensitive_hash(use.value, published_salt(f"desired-digest:{use.name}"))

        digest.update(source.token_pattern.sub(hashed, source.rendered).encode() + b"\0")
    digest.update(("clusters:" + ",".join(clusters) + "\0").encode())
    digest.update(("endpoint:" + (endpoint or "") + "\0").encode())
    return digest.hexdigest()
