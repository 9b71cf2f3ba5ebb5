"""The parity suite's own machinery: normalising and comparing recordings can fail."""

from __future__ import annotations

from typing import Any

from .traffic import Traffic, combine, compare, drop_call, member_value, normalise, unordered


def _event(conn: int, direction: str, msg: Any, ns: str = "/llm") -> dict[str, Any]:
    return {"t": 0.0, "conn": conn, "ns": ns, "dir": direction, "msg": msg}


def _session(first_call_id: int, client: str, instance: str, **extra: Any) -> Traffic:
    return normalise(
        [
            {"t": 0.0, "conn": 1, "ns": "/llm", "dir": "open"},
            _event(1, "c2s", {"authVersion": 1, "clientIdentifier": client, "clientPasskey": "x"}),
            _event(1, "s2c", {"success": True}),
            _event(
                1,
                "c2s",
                {
                    "type": "rpcCall",
                    "endpoint": "tokenize",
                    "callId": first_call_id,
                    "parameter": {"specifier": {"instanceReference": instance}, **extra},
                },
            ),
            _event(
                1,
                "s2c",
                {
                    "callId": first_call_id,
                    "type": "rpcResult",
                    "result": {"lastUsedTime": 123, "tokens": [1]},
                },
            ),
        ]
    )


A = "inst-" + "a" * 32
B = "inst-" + "b" * 32


def test_ids_identities_instances_and_clocks_are_normalised() -> None:
    ts, ours = _session(0, "guest:abc", A), _session(7, "guest:xyz", B)
    verdict = compare(ts, ours, ())
    assert verdict.outcome == "identical", verdict.report
    [call] = [f for f in ours.frames("/llm", "c2s") if f.get("type") == "rpcCall"]
    assert call["callId"] == 0 and call["parameter"]["specifier"]["instanceReference"] == (
        "<instance-1>"
    )


def test_a_changed_member_fails_with_a_diff() -> None:
    verdict = compare(_session(0, "a", A), _session(0, "a", A, extra=True), ())
    assert verdict.outcome == "failing"
    assert "=== /llm c2s" in verdict.report and '"extra": true' in verdict.report


def test_a_listed_difference_erases_only_itself() -> None:
    listed = member_value("why", "ours", "/llm", ("parameter", "extra"), True, type="rpcCall")
    ts, ours = _session(0, "a", A), _session(0, "a", A, extra=True)
    assert compare(ts, ours, (listed,)).outcome == "listed"
    other = _session(0, "a", A, extra=True, more=1)
    assert compare(ts, other, (listed,)).outcome == "failing"


def test_a_listed_difference_that_does_not_occur_fails() -> None:
    listed = member_value("why", "ours", "/llm", ("parameter", "extra"), True, type="rpcCall")
    verdict = compare(_session(0, "a", A), _session(0, "a", A), (listed,))
    assert verdict.outcome == "failing" and "Remove them" in verdict.report


def test_drop_call_removes_the_call_and_its_answer_and_renumbers() -> None:
    ts = _session(0, "a", A)
    extra = _session(0, "a", A)
    frames = extra.frames("/llm", "c2s")
    frames.insert(1, {"type": "rpcCall", "endpoint": "getModelInfo", "callId": 0})
    frames[2] = {**frames[2], "callId": 1}
    answers = extra.frames("/llm", "s2c")
    answers.insert(1, {"type": "rpcResult", "callId": 0})
    answers[2] = {**answers[2], "callId": 1}
    assert compare(ts, extra, ()).outcome == "failing"
    dropped = drop_call("why", "ours", "/llm", "getModelInfo")
    assert compare(ts, extra, (combine("why", dropped),)).outcome == "listed"
    assert compare(ts, extra, (unordered("why", "/llm", "c2s"),)).outcome == "failing"
