"""/v1/keys over HTTP on loopback, on SQLite and PostgreSQL: StackStorm's shapes, scopes,
secrets encrypted at rest and shown only to who may decrypt them, TTL expiry, errors."""

from __future__ import annotations

import time

from sqlalchemy import select

from levante.identity.keys import create_api_key
from levante.platform.datastore import pairs
from levante.platform.datastore.tables import kv_pairs
from tests.integration.platform.service.conftest import Served

SECRET = "s3cret-never-shown"


def test_set_get_list_delete_as_stackstorm(keyed: Served) -> None:
    with keyed.client() as c:
        put = c.put("/keys/greeting", json={"name": "greeting", "value": "hello"})
        assert put.status_code == 200, put.text
        doc = put.json()
        assert {k: doc[k] for k in ("name", "value", "secret", "encrypted", "scope")} == {
            "name": "greeting", "value": "hello", "secret": False, "encrypted": False,
            "scope": "st2kv.system"}
        assert doc["uid"] == "key_value_pair:st2kv.system:greeting" and doc["id"]
        assert "expire_timestamp" not in doc
        got = c.get("/keys/greeting", params={"scope": "st2kv.system"}).json()
        assert got == doc
        c.put("/keys/greeting", json={"value": "bonjour"})
        assert c.get("/keys/greeting").json()["value"] == "bonjour"
        for n in range(3):
            c.put(f"/keys/app.k{n}", json={"value": str(n)})
        listed = c.get("/keys/", params={"prefix": "app.", "scope": "all", "limit": 2})
        assert listed.headers["X-Total-Count"] == "3"
        assert [d["name"] for d in listed.json()] == ["app.k0", "app.k1"]
        page = c.get("/keys", params={"prefix": "app.", "limit": 2, "offset": 2}).json()
        assert [d["name"] for d in page] == ["app.k2"]
        assert c.get("/keys", params={"prefix": "app%"}).json() == []
        assert c.delete("/keys/greeting").status_code == 204
        gone = c.get("/keys/greeting")
        assert gone.status_code == 404
        assert 'Key "greeting" does not exist' in gone.json()["faultstring"]
        assert c.delete("/keys/greeting").status_code == 404


def test_secrets_are_encrypted_at_rest_and_decrypted_only_for_who_may(keyed: Served) -> None:
    alice, _ = create_api_key(keyed.engine, "alice")
    with keyed.client() as admin, keyed.client(alice) as c:
        doc = admin.put("/keys/db_password", json={"value": SECRET, "secret": True}).json()
        assert doc["secret"] is True and doc["encrypted"] is True
        assert SECRET not in str(doc)
        with keyed.engine.connect() as conn:
            stored = conn.execute(select(kv_pairs.c.value)).scalar_one()
        assert SECRET not in stored and stored == doc["value"]
        shown = admin.get("/keys/db_password").json()
        assert shown["value"] == stored and shown["encrypted"] is True
        plain = admin.get("/keys/db_password", params={"decrypt": "true"}).json()
        assert plain["value"] == SECRET and plain["encrypted"] is False
        listed = admin.get("/keys", params={"decrypt": "true", "scope": "all"}).json()
        assert [d["value"] for d in listed] == [SECRET]
        # A user may read a system secret's ciphertext, never decrypt it.
        assert c.get("/keys/db_password").json()["value"] == stored
        refused = c.get("/keys/db_password", params={"decrypt": "true"})
        assert refused.status_code == 403 and SECRET not in refused.text
        assert "admins only" in refused.json()["faultstring"]
        assert c.get("/keys", params={"decrypt": "true"}).status_code == 403
        # Her own user-scoped secret she may decrypt; nobody else's keys.
        mine = c.put("/keys/token", json={"value": "t0k", "secret": True, "scope": "user"})
        assert mine.json()["user"] == "alice" and mine.json()["scope"] == "st2kv.user"
        got = c.get("/keys/token", params={"scope": "user", "decrypt": "true"}).json()
        assert got["value"] == "t0k"
        assert c.get("/keys/token").status_code == 404  # (system scope by default)
        other = c.get("/keys/token", params={"scope": "user", "user": "bob"})
        assert other.status_code == 403
        assert admin.get("/keys/token", params={"scope": "user", "user": "alice",
                                                "decrypt": "true"}).json()["value"] == "t0k"
        mine_listed = c.get("/keys", params={"scope": "all"}).json()
        assert sorted(d["name"] for d in mine_listed) == ["db_password", "token"]
        # An encrypted value is loaded as it is (st2 key load of `key list -j`).
        again = admin.put("/keys/copy", json={"value": stored, "secret": True,
                                               "encrypted": True}).json()
        assert admin.get("/keys/copy", params={"decrypt": True}).json()["value"] == SECRET
        assert again["value"] == stored
        bad = admin.put("/keys/bad", json={"value": "ABCDEF", "encrypted": True,
                                           "secret": True})
        assert bad.status_code == 400 and "not an encrypted" in bad.text


def test_ttl_expiry(keyed: Served) -> None:
    with keyed.client() as c:
        doc = c.put("/keys/short", json={"value": "v", "ttl": 1}).json()
        assert doc["expire_timestamp"].endswith("Z")
        assert c.get("/keys/short").status_code == 200
        time.sleep(1.3)
        assert c.get("/keys/short").status_code == 404
        assert c.get("/keys").json() == []
        c.put("/keys/other", json={"value": "v"})  # a write sweeps the expired keys
        with keyed.engine.connect() as conn:
            names = conn.execute(select(kv_pairs.c.name)).scalars().all()
        assert names == ["other"]


def test_bad_requests_name_what_is_wrong(keyed: Served) -> None:
    with keyed.client() as c:
        cases = [
            (c.put("/keys/x", json={"value": 3}), 400, "'value' must be a string"),
            (c.put("/keys/x", json={"value": "v", "ttl": -1}), 400, "'ttl'"),
            (c.put("/keys/x", json={"value": "v", "ttl": "10"}), 400, "'ttl'"),
            (c.put("/keys/x", json={"value": "v", "secret": "yes"}), 400, "'secret'"),
            (c.put("/keys/x", json={"value": "v", "scope": "galaxy"}), 400,
             "not a datastore scope"),
            (c.put("/keys/x", json={"name": "y", "value": "v"}), 400, "path names"),
            (c.put("/keys/x", content=b"[1]"), 400, "JSON object"),
            (c.get("/keys", params={"scope": "nope"}), 400, "not a datastore scope"),
            (c.get("/keys", params={"limit": "x"}), 400, "'limit'"),
            (c.get("/keys/missing", params={"scope": "user"}), 404,
             'Key "missing" does not exist in the datastore (user scope of'),
        ]
        for response, status, text in cases:
            assert response.status_code == status, response.text
            assert text in response.json()["faultstring"], response.text
    with keyed.client("not-a-key") as c:
        assert c.get("/keys").status_code == 401


def test_secrets_need_the_crypto_key(served: Served) -> None:
    with served.client() as c:
        assert c.put("/keys/plain", json={"value": "v"}).status_code == 200
        refused = c.put("/keys/s", json={"value": SECRET, "secret": True})
        assert refused.status_code == 503
        path = str(pairs.key_path_of(served.config))
        assert path in refused.json()["faultstring"]
        assert "levante key generate-crypto-key" in refused.json()["faultstring"]
