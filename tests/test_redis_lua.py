"""LuaScript against the real Redis (skipped, saying why, when it cannot be reached): the
reply, a script the server has not seen, error replies, and a connection the server closed."""

from __future__ import annotations

import uuid

import pytest
import redis

from centime.redis_lua import LuaScript

ECHO = "return {KEYS[1], ARGV[1], tonumber(ARGV[2]) + 1}"


def test_a_script_answers_with_its_keys_and_arguments(redis_prefix: tuple[str, str]) -> None:
    url, prefix = redis_prefix
    script = LuaScript(redis.Redis.from_url(url), ECHO)
    assert script([f"{prefix}k"], ["v", 41]) == [f"{prefix}k".encode(), b"v", 42]


def test_a_script_the_server_never_saw_is_sent_whole_then_by_its_digest(
    redis_prefix: tuple[str, str],
) -> None:
    url, prefix = redis_prefix
    client = redis.Redis.from_url(url)
    source = f"-- {uuid.uuid4().hex}\n{ECHO}"  # a digest no one loaded
    script = LuaScript(client, source)
    assert client.script_exists(script._sha) == [False]
    assert script([f"{prefix}k"], ["v", 1])[2] == 2
    assert client.script_exists(script._sha) == [True]  # EVAL cached it: next time EVALSHA
    assert script([f"{prefix}k"], ["v", 2])[2] == 3


def test_an_error_reply_is_raised_and_the_connection_serves_the_next_call(
    redis_prefix: tuple[str, str],
) -> None:
    url, prefix = redis_prefix
    client = redis.Redis.from_url(url, max_connections=1)  # the next call reuses it
    failing = LuaScript(client, "return redis.error_reply('refused here')")
    with pytest.raises(redis.ResponseError, match="refused here"):
        failing([f"{prefix}k"])
    assert LuaScript(client, ECHO)([f"{prefix}k"], ["v", 0])[2] == 1


def test_a_connection_the_server_closed_is_replaced(redis_prefix: tuple[str, str]) -> None:
    url, prefix = redis_prefix
    client = redis.Redis.from_url(url, max_connections=1)
    script = LuaScript(client, ECHO)
    script([f"{prefix}k"], ["v", 0])
    name = f"centime-test-{uuid.uuid4().hex[:8]}"
    client.client_setname(name)  # the one pooled connection, named to be found
    killer = redis.Redis.from_url(url)
    ids = [entry["id"] for entry in killer.client_list() if entry.get("name") == name]
    assert len(ids) == 1
    assert killer.client_kill_filter(_id=ids[0]) == 1
    assert script([f"{prefix}k"], ["v", 5])[2] == 6
    assert not [e for e in killer.client_list() if e.get("name") == name]  # a new one served
