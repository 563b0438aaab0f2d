//! Byte-for-byte replies, compared with what Debian's redis-server 7.0.15
//! sends for the same requests (captured with a raw socket; see
//! `../shared/reference/redis-compat.md`). Where we differ on purpose (client
//! ids, `SELECT 1`, `appendonly`), the test says so.

mod common;

use common::{closes_with, TestServer};

#[test]
fn connection_commands() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.roundtrip(b"PING\r\n", b"+PONG\r\n");
    c.roundtrip(b"PING x\r\n", b"$1\r\nx\r\n");
    c.roundtrip(
        b"PING a b\r\n",
        b"-ERR wrong number of arguments for 'ping' command\r\n",
    );
    c.roundtrip(
        b"ECHO\r\n",
        b"-ERR wrong number of arguments for 'echo' command\r\n",
    );
    c.roundtrip(b"SELECT 0\r\n", b"+OK\r\n");
    c.roundtrip(
        b"SELECT x\r\n",
        b"-ERR value is not an integer or out of range\r\n",
    );
    // Redis has 16 databases by default; we have one.
    c.roundtrip(b"SELECT 1\r\n", b"-ERR DB index is out of range\r\n");
    c.roundtrip(b"QUIT x\r\n", b"+OK\r\n");
    c.expect_closed();
}

#[test]
fn unknown_commands_and_arity() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.roundtrip(
        b"FOO a b\r\n",
        b"-ERR unknown command 'FOO', with args beginning with: 'a' 'b' \r\n",
    );
    c.roundtrip(
        b"get\r\n",
        b"-ERR wrong number of arguments for 'get' command\r\n",
    );
    c.roundtrip(
        b"*1\r\n$0\r\n\r\n",
        b"-ERR unknown command '', with args beginning with: \r\n",
    );
    // Each argument is cut so the list stays within 128 characters.
    let long = "x".repeat(300);
    let mut expected = "-ERR unknown command 'nope', with args beginning with: '".to_string();
    expected.push_str(&"x".repeat(128));
    expected.push_str("' \r\n");
    c.roundtrip(format!("nope {long} y\r\n").as_bytes(), expected.as_bytes());
    // The connection stays open after an unknown command.
    c.roundtrip(b"PING\r\n", b"+PONG\r\n");
}

#[test]
fn hello_and_resp3_encodings() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.roundtrip(b"HELLO 4\r\n", b"-NOPROTO unsupported protocol version\r\n");
    c.roundtrip(
        b"HELLO abc\r\n",
        b"-ERR Protocol version is not an integer or out of range\r\n",
    );
    c.roundtrip(
        b"HELLO 3 FOO\r\n",
        b"-ERR Syntax error in HELLO option 'FOO'\r\n",
    );
    c.send(b"HELLO 3\r\n");
    let head = b"%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:";
    c.expect(head);
    let mut rest = Vec::new();
    while !rest.ends_with(b"*0\r\n") {
        rest.extend(c.read_exact_len(1));
    }
    assert!(String::from_utf8_lossy(&rest).ends_with(
        "\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n"
    ));
    // RESP3 null, null array elements, maps, verbatim INFO.
    c.roundtrip(b"GET nokey\r\n", b"_\r\n");
    c.roundtrip(b"MGET a b\r\n", b"*2\r\n_\r\n_\r\n");
    c.roundtrip(b"CONFIG GET save\r\n", b"%1\r\n$4\r\nsave\r\n$0\r\n\r\n");
    c.roundtrip(b"INFO keyspace\r\n", b"=16\r\ntxt:# Keyspace\r\n\r\n");
    c.roundtrip(b"SET k v NX\r\nSET k v NX\r\n", b"+OK\r\n_\r\n");
    c.roundtrip(
        b"MULTI\r\nGET nokey\r\nEXEC\r\n",
        b"+OK\r\n+QUEUED\r\n*1\r\n_\r\n",
    );
    // CLIENT INFO / LIST are verbatim strings on RESP3, as in Redis 7.
    c.send(b"CLIENT INFO\r\n");
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n") {
        head.extend(c.read_exact_len(1));
    }
    assert!(head.starts_with(b"="), "{}", String::from_utf8_lossy(&head));
    let len: usize = std::str::from_utf8(&head[1..head.len() - 2])
        .unwrap()
        .parse()
        .unwrap();
    let body = c.read_exact_len(len + 2);
    assert!(
        body.starts_with(b"txt:id="),
        "{}",
        String::from_utf8_lossy(&body)
    );
    assert!(String::from_utf8_lossy(&body).contains(" cmd=client|info "));
    // Back to RESP2.
    c.send(b"HELLO 2\r\n");
    c.expect(b"*14\r\n");
    let _ = c.read_exact_len(100);
    let mut tail = Vec::new();
    while !tail.ends_with(b"*0\r\n") {
        tail.extend(c.read_exact_len(1));
    }
    c.roundtrip(b"GET nokey\r\n", b"$-1\r\n");
}

#[test]
fn client_and_config() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.roundtrip(
        b"CLIENT FOO\r\n",
        b"-ERR unknown subcommand 'FOO'. Try CLIENT HELP.\r\n",
    );
    c.roundtrip(
        b"CLIENT SETNAME\r\n",
        b"-ERR wrong number of arguments for 'client|setname' command\r\n",
    );
    c.roundtrip(
        b"CLIENT SETNAME \"a b\"\r\n",
        b"-ERR Client names cannot contain spaces, newlines or special characters.\r\n",
    );
    c.roundtrip(b"CLIENT GETNAME\r\n", b"$-1\r\n");
    c.roundtrip(
        b"CLIENT SETNAME nm\r\nCLIENT GETNAME\r\n",
        b"+OK\r\n$2\r\nnm\r\n",
    );
    c.roundtrip(
        b"CLIENT\r\n",
        b"-ERR wrong number of arguments for 'client' command\r\n",
    );
    // Redis 7.2's SETINFO, which redis-py sends on connect.
    c.roundtrip(b"CLIENT SETINFO LIB-NAME redis-py\r\n", b"+OK\r\n");
    c.send(b"CLIENT LIST\r\n");
    let head = c.read_exact_len(6);
    assert!(head.starts_with(b"$"), "CLIENT LIST is a bulk string");
    c.stream
        .set_read_timeout(Some(std::time::Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 4096];
    let n = std::io::Read::read(&mut c.stream, &mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).contains("name=nm"));
    c.stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();

    c.roundtrip(b"CONFIG GET save\r\n", b"*2\r\n$4\r\nsave\r\n$0\r\n\r\n");
    // Our log is append-only, so we say so (Redis's default answer is "no").
    c.roundtrip(
        b"CONFIG GET appendonly\r\n",
        b"*2\r\n$10\r\nappendonly\r\n$3\r\nyes\r\n",
    );
    c.roundtrip(b"CONFIG GET nothing\r\n", b"*0\r\n");
    c.roundtrip(
        b"CONFIG SET foo bar\r\n",
        b"-ERR Unknown option or number of arguments for CONFIG SET - 'foo'\r\n",
    );
    c.roundtrip(
        b"CONFIG FOO\r\n",
        b"-ERR unknown subcommand 'FOO'. Try CONFIG HELP.\r\n",
    );
    c.roundtrip(
        b"CONFIG GET\r\n",
        b"-ERR wrong number of arguments for 'config|get' command\r\n",
    );
    c.roundtrip(
        b"COMMAND FOO\r\n",
        b"-ERR unknown subcommand 'FOO'. Try COMMAND HELP.\r\n",
    );
}

#[test]
fn string_command_errors() {
    let s = TestServer::start();
    let mut c = s.raw();
    let cases: &[(&[u8], &[u8])] = &[
        (b"SET k v NX XX\r\n", b"-ERR syntax error\r\n"),
        (
            b"SET k v EX 0\r\n",
            b"-ERR invalid expire time in 'set' command\r\n",
        ),
        (
            b"SET k v EX -5\r\n",
            b"-ERR invalid expire time in 'set' command\r\n",
        ),
        (
            b"SET k v EX abc\r\n",
            b"-ERR value is not an integer or out of range\r\n",
        ),
        (b"SET k v EX 10 PX 5\r\n", b"-ERR syntax error\r\n"),
        (b"SET k v KEEPTTL EX 5\r\n", b"-ERR syntax error\r\n"),
        (b"SET k v GET\r\n", b"$-1\r\n"),
        (b"SET k v2 GET\r\n", b"$1\r\nv\r\n"),
        (b"SET k v NX\r\n", b"$-1\r\n"),
        (b"SET nk v XX\r\n", b"$-1\r\n"),
        (b"SET k v FOO\r\n", b"-ERR syntax error\r\n"),
        (
            b"SETEX k 0 v\r\n",
            b"-ERR invalid expire time in 'setex' command\r\n",
        ),
        (
            b"PSETEX k -1 v\r\n",
            b"-ERR invalid expire time in 'psetex' command\r\n",
        ),
        (
            b"GETEX k EX 0\r\n",
            b"-ERR invalid expire time in 'getex' command\r\n",
        ),
        (b"GETEX k PERSIST EX 4\r\n", b"-ERR syntax error\r\n"),
        (b"GETEX nokey\r\n", b"$-1\r\n"),
        (
            b"SET k v EX 9223372036854775807\r\n",
            b"-ERR invalid expire time in 'set' command\r\n",
        ),
        (
            b"INCR k\r\n",
            b"-ERR value is not an integer or out of range\r\n",
        ),
        (b"SET n 9223372036854775807\r\n", b"+OK\r\n"),
        (
            b"INCR n\r\n",
            b"-ERR increment or decrement would overflow\r\n",
        ),
        (
            b"INCRBY n abc\r\n",
            b"-ERR value is not an integer or out of range\r\n",
        ),
        (
            b"INCRBY n +1\r\n",
            b"-ERR value is not an integer or out of range\r\n",
        ),
        (
            b"INCRBY n 01\r\n",
            b"-ERR value is not an integer or out of range\r\n",
        ),
        (
            b"DECRBY n -9223372036854775808\r\n",
            b"-ERR decrement would overflow\r\n",
        ),
        (b"APPEND n x\r\n", b":20\r\n"),
        (b"STRLEN n\r\n", b":20\r\n"),
        (b"TYPE n\r\n", b"+string\r\n"),
        (b"TYPE zz\r\n", b"+none\r\n"),
        (
            b"MSET a\r\n",
            b"-ERR wrong number of arguments for 'mset' command\r\n",
        ),
        (
            b"MSET a 1 b\r\n",
            b"-ERR wrong number of arguments for 'mset' command\r\n",
        ),
        (b"MSETNX a 1 b 2\r\n", b":1\r\n"),
        (b"MSETNX a 1 c 2\r\n", b":0\r\n"),
        (b"GETSET a 5\r\n", b"$1\r\n1\r\n"),
        (b"GETDEL a\r\n", b"$1\r\n5\r\n"),
        (b"GETDEL a\r\n", b"$-1\r\n"),
        (b"EXISTS b b c\r\n", b":2\r\n"),
        (b"DEL b c zz\r\n", b":1\r\n"),
        (b"SETNX q 1\r\n", b":1\r\n"),
        (b"SETNX q 1\r\n", b":0\r\n"),
        (
            b"INCRBY x 1.5\r\n",
            b"-ERR value is not an integer or out of range\r\n",
        ),
        (
            b"INCRBY x -9223372036854775808\r\n",
            b":-9223372036854775808\r\n",
        ),
        (
            b"DECR x\r\n",
            b"-ERR increment or decrement would overflow\r\n",
        ),
    ];
    for (req, want) in cases {
        c.roundtrip(req, want);
    }
}

#[test]
fn keyspace_command_errors() {
    let s = TestServer::start();
    let mut c = s.raw();
    let cases: &[(&[u8], &[u8])] = &[
        (b"SCAN 0 COUNT 0\r\n", b"-ERR syntax error\r\n"),
        (b"SCAN abc\r\n", b"-ERR invalid cursor\r\n"),
        (b"SCAN 0 FOO\r\n", b"-ERR syntax error\r\n"),
        (
            b"SCAN 0 COUNT x\r\n",
            b"-ERR value is not an integer or out of range\r\n",
        ),
        (b"SCAN 0\r\n", b"*2\r\n$1\r\n0\r\n*0\r\n"),
        (
            b"UNLINK\r\n",
            b"-ERR wrong number of arguments for 'unlink' command\r\n",
        ),
        (
            b"KEYS\r\n",
            b"-ERR wrong number of arguments for 'keys' command\r\n",
        ),
        (
            b"DBSIZE x\r\n",
            b"-ERR wrong number of arguments for 'dbsize' command\r\n",
        ),
        (b"FLUSHDB foo\r\n", b"-ERR syntax error\r\n"),
        (b"FLUSHDB ASYNC\r\n", b"+OK\r\n"),
        (b"DBSIZE\r\n", b":0\r\n"),
        (b"INFO a b c\r\n", b"$0\r\n\r\n"),
        (b"SHUTDOWN FOO\r\n", b"-ERR syntax error\r\n"),
        (b"EXEC\r\n", b"-ERR EXEC without MULTI\r\n"),
        (b"DISCARD\r\n", b"-ERR DISCARD without MULTI\r\n"),
        (
            b"EXPIRE k abc\r\n",
            b"-ERR value is not an integer or out of range\r\n",
        ),
        (b"EXPIRE k 0 X\r\n", b"-ERR Unsupported option X\r\n"),
        (
            b"EXPIRE k 1 NX XX\r\n",
            b"-ERR NX and XX, GT or LT options at the same time are not compatible\r\n",
        ),
        (
            b"EXPIRE k 1 GT LT\r\n",
            b"-ERR GT and LT options at the same time are not compatible\r\n",
        ),
        (b"SET big 1\r\n", b"+OK\r\n"),
        (
            b"EXPIRE big 9223372036854775807\r\n",
            b"-ERR invalid expire time in 'expire' command\r\n",
        ),
        (
            b"PEXPIRE big 9223372036854775807\r\n",
            b"-ERR invalid expire time in 'pexpire' command\r\n",
        ),
        (
            b"EXPIREAT big 9999999999999999\r\n",
            b"-ERR invalid expire time in 'expireat' command\r\n",
        ),
    ];
    for (req, want) in cases {
        c.roundtrip(req, want);
    }
}

#[test]
fn auth_and_hello_auth() {
    let cfg = common::with_password("sekret");
    let s = TestServer::with_config(cfg);
    let mut c = s.raw();
    c.roundtrip(b"GET a\r\n", b"-NOAUTH Authentication required.\r\n");
    c.roundtrip(
        b"HELLO 3\r\n",
        b"-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time\r\n",
    );
    c.roundtrip(
        b"HELLO 3 AUTH default x\r\n",
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n",
    );
    c.roundtrip(
        b"AUTH x\r\n",
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n",
    );
    c.roundtrip(
        b"AUTH bob sekret\r\n",
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n",
    );
    // Unknown commands are reported before authentication, as Redis does.
    c.roundtrip(
        b"FOO\r\n",
        b"-ERR unknown command 'FOO', with args beginning with: \r\n",
    );
    c.roundtrip(b"AUTH sekret\r\nGET a\r\n", b"+OK\r\n$-1\r\n");

    let mut d = s.raw();
    d.send(b"HELLO 3 AUTH default sekret\r\n");
    d.expect(b"%7\r\n");
    // Before AUTH, a request may not claim more than 10 arguments.
    closes_with(
        &s,
        b"*11\r\n",
        b"-ERR Protocol error: unauthenticated multibulk length\r\n",
    );
    closes_with(
        &s,
        b"*1\r\n$20000\r\n",
        b"-ERR Protocol error: unauthenticated bulk length\r\n",
    );
}

#[test]
fn auth_without_password_configured() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.roundtrip(
        b"AUTH x\r\n",
        b"-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n",
    );
    // The default user has no password: any password works for it.
    c.roundtrip(b"AUTH default x\r\n", b"+OK\r\n");
    c.roundtrip(
        b"AUTH a b\r\n",
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n",
    );
}

#[test]
fn inline_commands_with_quotes() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.roundtrip(b"SET a \"x\\ty\" \r\nGET a\r\n", b"+OK\r\n$3\r\nx\ty\r\n");
    c.roundtrip(b"SET b 'it\\'s'\r\nGET b\r\n", b"+OK\r\n$4\r\nit's\r\n");
    c.roundtrip(b"SET c \"\\x41\\x42\"\r\nGET c\r\n", b"+OK\r\n$2\r\nAB\r\n");
    c.roundtrip(b"\r\n\r\nPING\r\n", b"+PONG\r\n");
    c.roundtrip(
        b"SET c \"a\"b\r\n",
        b"-ERR Protocol error: unbalanced quotes in request\r\n",
    );
    c.expect_closed();
}
