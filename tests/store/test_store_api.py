"""Store semantics, run against the TinyDB file store, the PostgreSQL store (a real server, see
tests/pg_server.py) and the in-memory store."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from tinydb import Query

from counsel_bot.store import (
    MemoryStore,
    ReadOnlyError,
    Store,
    StoreUsageError,
    TinyDBStore,
    open_store,
)
from tests.conftest import open_test_store


@pytest.fixture(params=["tinydb", "postgresql", "memory"])
def any_store(request: pytest.FixtureRequest, data_dir: Path, key: bytes):
    if request.param == "memory":
        s: Store = MemoryStore()
    elif request.param == "postgresql":
        s = open_test_store(request.getfixturevalue("pg_url"), key)
    else:
        s = TinyDBStore(data_dir, key)
    yield s
    s.close()


class Boom(Exception):
    pass


def test_implements_port(any_store: Store) -> None:
    assert isinstance(any_store, Store)


def test_round_trip_tables_and_queries(any_store: Store) -> None:
    Case = Query()
    with any_store.transaction("case:K7F3") as db:
        db.table("notes").insert_multiple(
            [{"n": 1, "text": "first", "tags": ["a"]}, {"n": 2, "text": "ünïcode ✓", "tags": []}]
        )
        db.table("meta").insert({"status": "open", "owner": {"id": 7}})
    assert any_store.exists("case:K7F3")
    with any_store.snapshot("case:K7F3") as db:
        assert db.tables() == {"notes", "meta"}
        assert db.table("notes").search(Case.n > 1) == [{"n": 2, "text": "ünïcode ✓", "tags": []}]
        assert db.table("meta").get(Case.owner.id == 7)["status"] == "open"
    with any_store.transaction("case:K7F3") as db:
        db.table("meta").update({"status": "closed"}, Case.status == "open")
        db.table("notes").remove(Case.n == 1)
    with any_store.snapshot("case:K7F3") as db:
        assert db.table("meta").all() == [{"status": "closed", "owner": {"id": 7}}]
        assert [d["n"] for d in db.table("notes").all()] == [2]
        assert db.table("notes").all()[0].doc_id == 2


def test_rollback_on_exception_writes_nothing(any_store: Store) -> None:
    with any_store.transaction("case:A") as db:
        db.table("t").insert({"v": 1})
    with pytest.raises(Boom), any_store.transaction("case:A") as db:
        db.table("t").insert({"v": 2})
        db.table("t").update({"v": 99})
        raise Boom
    with any_store.snapshot("case:A") as db:
        assert db.table("t").all() == [{"v": 1}]
    with pytest.raises(Boom), any_store.transaction("case:new") as db:
        db.table("t").insert({"v": 1})
        raise Boom
    assert not any_store.exists("case:new")


def test_nested_transaction_is_reentrant_and_outermost_commits(any_store: Store) -> None:
    with any_store.transaction("case:N") as outer:
        outer.table("t").insert({"v": 1})
        with any_store.transaction("case:N") as inner:
            assert inner.table("t").all() == [{"v": 1}]
            inner.table("t").insert({"v": 2})
        assert len(outer.table("t")) == 2
        with any_store.transaction("case:other") as other:  # other keys nest too
            other.table("t").insert({"v": 3})
    with any_store.snapshot("case:N") as db:
        assert sorted(d["v"] for d in db.table("t").all()) == [1, 2]
    assert any_store.exists("case:other")


def test_nothing_committed_when_outer_raises_after_inner(any_store: Store) -> None:
    with pytest.raises(Boom), any_store.transaction("case:N"):
        with any_store.transaction("case:N") as inner:
            inner.table("t").insert({"v": 1})
        raise Boom
    assert not any_store.exists("case:N")


def test_inner_rollback_restores_savepoint(any_store: Store) -> None:
    Q = Query()
    with any_store.transaction("case:S") as db:
        table = db.table("t")
        table.insert({"v": 1})
        with pytest.raises(Boom), any_store.transaction("case:S") as inner:
            inner.table("t").insert({"v": 2})
            assert inner.table("t").search(Q.v == 2)  # fills TinyDB's query cache
            raise Boom
        assert table.search(Q.v == 2) == []  # the cache did not survive the rollback
        table.insert({"v": 3})
    with any_store.snapshot("case:S") as db:
        assert sorted(d["v"] for d in db.table("t").all()) == [1, 3]


def test_snapshot_is_read_only(any_store: Store) -> None:
    with any_store.transaction("case:R") as db:
        db.table("t").insert({"v": 1})
    with any_store.snapshot("case:R") as db:
        with pytest.raises(ReadOnlyError):
            db.table("t").insert({"v": 2})
        with pytest.raises(ReadOnlyError):
            db.table("t").truncate()
    with any_store.snapshot("case:R") as db:
        assert db.table("t").all() == [{"v": 1}]


def test_snapshot_of_absent_shard_is_empty(any_store: Store) -> None:
    with any_store.snapshot("case:none") as db:
        assert db.tables() == set()
        assert db.table("t").all() == []
    assert not any_store.exists("case:none")


def test_snapshot_inside_transaction_sees_uncommitted_state(any_store: Store) -> None:
    with any_store.transaction("case:V") as db:
        db.table("t").insert({"v": 1})
        with any_store.snapshot("case:V") as view:
            assert view.table("t").all() == [{"v": 1}]


def test_transaction_inside_snapshot_of_same_key_refused(any_store: Store) -> None:
    with (
        any_store.snapshot("case:U"),
        pytest.raises(StoreUsageError),
        any_store.transaction("case:U"),
    ):
        pass


def test_handle_unusable_after_block(any_store: Store) -> None:
    with any_store.transaction("case:H") as db:
        db.table("t").insert({"v": 1})
    with pytest.raises(StoreUsageError):
        db.table("t").insert({"v": 2})
    with any_store.snapshot("case:H") as db:
        assert len(db.table("t")) == 1


def test_mutating_returned_documents_does_not_leak(any_store: Store) -> None:
    with any_store.transaction("case:M") as db:
        db.table("t").insert({"items": [1]})
    with any_store.transaction("case:M") as db:
        db.table("t").all()[0]["items"].append(2)  # no TinyDB write
        db.table("other").insert({"x": 1})  # some other write makes the shard dirty
    with any_store.snapshot("case:M") as db:
        assert db.table("t").all() == [{"items": [1]}]


def test_erase(any_store: Store) -> None:
    with any_store.transaction("invite:abc") as db:
        db.table("t").insert({"v": 1})
    any_store.erase("invite:abc")
    assert not any_store.exists("invite:abc")
    with any_store.snapshot("invite:abc") as db:
        assert db.tables() == set()
    any_store.erase("invite:abc")  # idempotent
    with any_store.transaction("invite:abc") as db, pytest.raises(StoreUsageError):
        any_store.erase("invite:abc")


def test_unserialisable_value_fails_inside_block(any_store: Store) -> None:
    with pytest.raises(TypeError), any_store.transaction("case:J") as db:
        db.table("t").insert({"v": object()})
    assert not any_store.exists("case:J")


def test_closed_store_refuses(any_store: Store) -> None:
    any_store.close()
    with pytest.raises(StoreUsageError), any_store.transaction("case:x"):
        pass
    with pytest.raises(StoreUsageError):
        any_store.exists("case:x")


def test_threads_do_not_lose_increments(any_store: Store) -> None:
    def work() -> None:
        for _ in range(50):
            with any_store.transaction("caseworkers") as db:
                t = db.table("c")
                n = t.get(doc_id=1)["n"] if t.get(doc_id=1) else 0
                t.truncate()
                t.insert({"n": n + 1})

    threads = [threading.Thread(target=work) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    with any_store.snapshot("caseworkers") as db:
        assert db.table("c").all() == [{"n": 200}]


def test_two_store_instances_in_one_process_share_locks(store_target: str, key: bytes) -> None:
    a, b = open_test_store(store_target, key), open_test_store(store_target, key)

    def work(s: Store) -> None:
        for _ in range(40):
            with s.transaction("case:both") as db:
                t = db.table("c")
                doc = t.get(doc_id=1)
                t.upsert({"n": (doc["n"] if doc else 0) + 1}, Query().n.exists())

    threads = [threading.Thread(target=work, args=(s,)) for s in (a, b)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    with a.snapshot("case:both") as db:
        assert db.table("c").all() == [{"n": 80}]
    a.close()
    b.close()


def test_reopen_reads_committed_data(store_target: str, key: bytes) -> None:
    s = open_store(store_target if "://" in store_target else Path(store_target), key)
    with s.transaction("chat:telegram:1") as db:
        db.insert({"lang": "ar"})
    s.close()
    again = open_test_store(store_target, key)
    with again.snapshot("chat:telegram:1") as db:
        assert db.all() == [{"lang": "ar"}]
    again.close()
