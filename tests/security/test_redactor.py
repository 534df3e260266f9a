"""The Redactor and its channels, one at a time: streams, logging, files, journal."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import click
import pytest

from reconciler.masking import MASK, Redactor, current_redactor, register, register_credentials
from reconciler.masking.files import write_atomic
from reconciler.masking.logs import MaskingFilter, start_verbose_logging
from reconciler.masking.streams import MaskingStream
from reconciler.statemgr import Journal


def redactor(*values: str) -> Redactor:
    r = Redactor()
    for value in values:
        r.add(value)
    return r


def test_masks_inside_longer_strings_every_occurrence() -> None:
    r = redactor("hunter22")
    assert r.mask("pw=hunter22; again hunter22!") == f"pw={MASK}; again {MASK}!"


def test_longest_first_masks_a_secret_containing_another_whole() -> None:
    r = redactor("abcd", "abcdefgh")
    assert r.mask("x abcdefgh y") == f"x {MASK} y"
    assert r.mask("x abcdZZ y") == f"x {MASK}ZZ y"


def test_overlapping_secrets_are_masked_as_one_span() -> None:
    # The end of one is the start of the other: neither part may show.
    r = redactor("abcdef", "defghi")
    assert r.mask("<abcdefghi>") == f"<{MASK}>"


def test_adjacent_secrets_become_one_mask() -> None:
    r = redactor("aaaa", "bbbb")
    assert r.mask("aaaabbbb") == MASK


def test_json_escaped_forms_are_masked() -> None:
    secret = 'pa"ss\\wörd'
    r = redactor(secret)
    for dumped in (json.dumps({"v": secret}), json.dumps({"v": secret}, ensure_ascii=False)):
        masked = r.mask(dumped)
        assert "pa" not in masked and "rd" not in masked, masked
        assert MASK in masked


def test_regex_metacharacters_are_literal() -> None:
    r = redactor("a.b*c+d")
    assert r.mask("a.b*c+d axbbbcd") == f"{MASK} axbbbcd"


def test_short_values_are_ignored() -> None:
    r = redactor("abc", "", "a")
    assert r.mask("abc a b c") == "abc a b c"


def test_nothing_registered_returns_text_unchanged() -> None:
    assert Redactor().mask("anything") == "anything"


def test_register_credentials_reads_every_credential_variable() -> None:
    env = {"HW_ACCESS_KEY": "AK-one", "HW_SECRET_KEY": "SK-two", "CLOUD_SDK_AK": "AK-three",
           "CLOUD_SDK_SK": "SK-four", "HW_AUTH_TOKEN": "TOK-five",
           "HW_SECURITY_TOKEN": "STS-six", "HW_REGION_NAME": "ap-southeast-1"}
    register_credentials(env)
    text = " ".join(env.values())
    assert current_redactor().mask(text) == " ".join([MASK] * 6 + ["ap-southeast-1"])


def test_masking_stream_masks_click_echo_and_keeps_tty_answer() -> None:
    register(["s3cr3t-value"])
    inner = io.StringIO()
    stream = MaskingStream(inner)
    click.echo("token s3cr3t-value here", file=stream)  # type: ignore[arg-type]
    assert inner.getvalue() == f"token {MASK} here\n"
    assert stream.isatty() is False
    with pytest.raises(TypeError):
        stream.write(b"")  # type: ignore[arg-type]
    assert not hasattr(stream, "buffer")  # click would write around the mask


def test_logging_filter_masks_message_args_and_traceback() -> None:
    register(["s3cr3t-value"])
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(MaskingFilter())
    log = logging.getLogger("tests.security.redactor")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("sending %s", "s3cr3t-value")
        try:
            raise ValueError("bad s3cr3t-value")
        except ValueError:
            log.exception("failed")
    finally:
        log.removeHandler(handler)
        log.propagate = True
    assert "s3cr3t" not in out.getvalue()
    assert f"sending {MASK}" in out.getvalue()
    assert f"ValueError: bad {MASK}" in out.getvalue()


def test_verbose_logging_is_undone() -> None:
    root = logging.getLogger()
    before = (root.level, list(root.handlers))
    undo = start_verbose_logging(2)
    assert root.level == logging.DEBUG
    undo()
    assert (root.level, list(root.handlers)) == before


def test_write_atomic_masks_text_and_bytes_and_sets_mode(tmp_path: Path) -> None:
    register(['q"uote\\d'])
    target = tmp_path / "sub" / "file.json"
    write_atomic(target, json.dumps({"v": 'x q"uote\\d y'}), mode=0o644)
    assert json.loads(target.read_text()) == {"v": f"x {MASK} y"}
    assert target.stat().st_mode & 0o777 == 0o644
    write_atomic(target, b'raw q"uote\\d \xff')
    assert target.read_bytes() == f"raw {MASK} ".encode() + b"\xff"
    assert target.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in target.parent.iterdir()] == ["file.json"]


def test_journal_lines_are_masked(tmp_path: Path) -> None:
    register(["s3cr3t-value"])
    journal = Journal(tmp_path, "prod")
    journal.append({"action": "update", "message": "server said: s3cr3t-value is wrong"})
    assert "s3cr3t" not in journal.path.read_text()
    assert journal.read()[0]["message"] == f"server said: {MASK} is wrong"
