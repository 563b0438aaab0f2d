//! The `redis` crate, a real client library, over RESP2 and RESP3: it performs
//! its own handshake (`HELLO 3` for RESP3) and decodes every reply type.

mod common;

use common::TestServer;
use redis::{Commands, Value};

fn resp3_url(s: &TestServer) -> String {
    format!("redis://{}/?protocol=resp3", s.addr)
}

fn strings_roundtrip(con: &mut redis::Connection) {
    let _: () = con.set("greeting", "hello").unwrap();
    let v: String = con.get("greeting").unwrap();
    assert_eq!(v, "hello");
    let missing: Option<String> = con.get("nope").unwrap();
    assert_eq!(missing, None);
    let n: i64 = con.incr("counter", 5).unwrap();
    assert_eq!(n, 5);
    let n: i64 = con.decr("counter", 2).unwrap();
    assert_eq!(n, 3);
    let len: usize = con.append("greeting", " world").unwrap();
    assert_eq!(len, 11);
    let _: () = con.mset(&[("a", "1"), ("b", "2")]).unwrap();
    let vals: Vec<Option<String>> = con.mget(&["a", "zz", "b"]).unwrap();
    assert_eq!(vals, vec![Some("1".into()), None, Some("2".into())]);
    let deleted: usize = con.del(&["a", "b", "zz"]).unwrap();
    assert_eq!(deleted, 2);
    let exists: bool = con.exists("greeting").unwrap();
    assert!(exists);
    // Binary-safe values.
    let blob: Vec<u8> = (0..=255u8).collect();
    let _: () = con.set(b"bin\x00key", &blob).unwrap();
    let back: Vec<u8> = con.get(b"bin\x00key").unwrap();
    assert_eq!(back, blob);
}

#[test]
fn resp2_strings() {
    let s = TestServer::start();
    let mut con = s.con();
    strings_roundtrip(&mut con);
}

#[test]
fn resp3_strings() {
    let s = TestServer::start();
    let mut con = common::connect(&resp3_url(&s));
    strings_roundtrip(&mut con);
    // A RESP3 null decodes as Nil, a map as a Map.
    let v: Value = redis::cmd("GET").arg("nope").query(&mut con).unwrap();
    assert_eq!(v, Value::Nil);
    let v: Value = redis::cmd("CONFIG")
        .arg("GET")
        .arg("save")
        .query(&mut con)
        .unwrap();
    assert!(
        matches!(v, Value::Map(_)),
        "CONFIG GET is a map on RESP3: {v:?}"
    );
    let v: Value = redis::cmd("INFO").query(&mut con).unwrap();
    match v {
        Value::VerbatimString { text, .. } => assert!(text.contains("redis_version:")),
        other => panic!("INFO is a verbatim string on RESP3, got {other:?}"),
    }
}

#[test]
fn resp3_hello_reply_is_a_map_with_proto_3() {
    let s = TestServer::start();
    let mut con = s.con();
    let v: Value = redis::cmd("HELLO").arg(3).query(&mut con).unwrap();
    let Value::Map(pairs) = v else {
        panic!("HELLO 3 must reply a map")
    };
    let proto = pairs
        .iter()
        .find(|(k, _)| matches!(k, Value::BulkString(b) if b == b"proto"))
        .map(|(_, v)| v.clone());
    assert_eq!(proto, Some(Value::Int(3)));
}

#[test]
fn resp3_with_password() {
    let cfg = common::with_password("pw");
    let s = TestServer::with_config(cfg);
    let url = format!("redis://:pw@{}/?protocol=resp3", s.addr);
    let mut con = common::connect(&url);
    let _: () = con.set("k", "v").unwrap();
    let v: String = con.get("k").unwrap();
    assert_eq!(v, "v");
    let bad = format!("redis://:wrong@{}/", s.addr);
    assert!(redis::Client::open(bad).unwrap().get_connection().is_err());
}

#[test]
fn transactions_through_the_client() {
    let s = TestServer::start();
    let mut con = common::connect(&resp3_url(&s));
    let (a, b): (i64, i64) = redis::pipe()
        .atomic()
        .set("x", 1)
        .ignore()
        .incr("x", 1)
        .incr("x", 10)
        .query(&mut con)
        .unwrap();
    assert_eq!((a, b), (2, 12));
}

#[test]
fn ttl_commands_through_the_client() {
    let s = TestServer::start();
    let mut con = s.con();
    let _: () = con.set_ex("t", "v", 100).unwrap();
    let ttl: i64 = con.ttl("t").unwrap();
    assert!((99..=100).contains(&ttl), "ttl {ttl}");
    let pttl: i64 = con.pttl("t").unwrap();
    assert!(pttl > 98_000 && pttl <= 100_000, "pttl {pttl}");
    let persisted: bool = con.persist("t").unwrap();
    assert!(persisted);
    let ttl: i64 = con.ttl("t").unwrap();
    assert_eq!(ttl, -1);
    let ttl: i64 = con.ttl("missing").unwrap();
    assert_eq!(ttl, -2);
}

#[test]
fn scan_iterates_every_key() {
    let s = TestServer::start();
    let mut con = s.con();
    for i in 0..500 {
        let _: () = con.set(format!("key:{i}"), i).unwrap();
    }
    let _: () = con.set("other", 1).unwrap();
    let mut seen: Vec<String> = con.scan_match("key:*").unwrap().collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 500);
    let mut all: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut con).unwrap();
    all.sort();
    assert_eq!(all.len(), 501);
    let n: i64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(n, 501);
}

#[test]
fn introspection_commands() {
    let s = TestServer::start();
    let mut con = s.con();
    let _: () = con.set_ex("t", "v", 100).unwrap();
    let _: () = con.set("p", "v").unwrap();
    let info: String = redis::cmd("INFO").query(&mut con).unwrap();
    for needle in [
        "# Server\r\nredis_version:7.0.15\r\n",
        "# Clients\r\nconnected_clients:1\r\n",
        "# Memory\r\n",
        "keydir_bytes:",
        "# Persistence\r\n",
        "dead_bytes:",
        "data_files:",
        "last_merge_reclaimed_bytes:",
        "# Stats\r\n",
        "total_commands_processed:",
        "# Keyspace\r\ndb0:keys=2,expires=1,avg_ttl=0\r\n",
    ] {
        assert!(info.contains(needle), "INFO lacks {needle:?}:\n{info}");
    }
    // CONFIG RESETSTAT zeroes the counters, as Redis's does.
    let stat = |con: &mut redis::Connection, name: &str| -> u64 {
        let info: String = redis::cmd("INFO").arg("stats").query(con).unwrap();
        let line = info
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .unwrap_or_else(|| panic!("no {name} in {info}"));
        line.parse().unwrap()
    };
    assert!(stat(&mut con, "total_commands_processed") >= 3);
    assert!(stat(&mut con, "total_net_input_bytes") > 0);
    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query(&mut con)
        .unwrap();
    assert!(stat(&mut con, "total_commands_processed") <= 1);
    assert_eq!(stat(&mut con, "total_connections_received"), 0);
    assert!(stat(&mut con, "total_net_input_bytes") < 100);
    let only: String = redis::cmd("INFO").arg("SERVER").query(&mut con).unwrap();
    assert!(only.starts_with("# Server\r\n") && !only.contains("# Keyspace"));

    let count: i64 = redis::cmd("COMMAND").arg("COUNT").query(&mut con).unwrap();
    let all: Vec<Value> = redis::cmd("COMMAND").query(&mut con).unwrap();
    assert_eq!(all.len() as i64, count);
    let info: Vec<Value> = redis::cmd("COMMAND")
        .arg("INFO")
        .arg("get")
        .arg("nope")
        .query(&mut con)
        .unwrap();
    assert!(matches!(&info[..], [Value::Array(entry), Value::Nil] if entry.len() == 10));
    // COMMAND DOCS: a map (flattened on RESP2) from name to a doc map.
    let docs: Vec<Value> = redis::cmd("COMMAND")
        .arg("DOCS")
        .arg("set")
        .query(&mut con)
        .unwrap();
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[0], Value::BulkString(b"set".to_vec()));

    let clients: String = redis::cmd("CLIENT").arg("LIST").query(&mut con).unwrap();
    assert!(clients.starts_with("id=") && clients.ends_with('\n'));
    let id: i64 = redis::cmd("CLIENT").arg("ID").query(&mut con).unwrap();
    assert!(clients.contains(&format!("id={id} ")));
}
