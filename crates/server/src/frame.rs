//! Reply frames and their RESP2 / RESP3 encodings.
//!
//! Requests and replies are asymmetric in Redis: a request is always an array of
//! bulk strings (or an inline line), so [`crate::parse`] turns it straight into a
//! list of arguments. Replies are richer, and their wire form depends on the
//! protocol version the connection chose with `HELLO`. A command therefore
//! builds a protocol-neutral [`Frame`] and the connection encodes it once it
//! knows the version: a [`Frame::Null`] is `$-1` on RESP2 and `_` on RESP3, a
//! [`Frame::Map`] is a flat array on RESP2 and `%` on RESP3, and so on.

use std::borrow::Cow;

use bytes::{BufMut, Bytes, BytesMut};

/// The protocol version a connection speaks, chosen by `HELLO` (default 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    /// RESP2: the protocol every client understands.
    Resp2,
    /// RESP3: typed nulls, maps and verbatim strings (redis-py 8 default).
    Resp3,
}

impl Proto {
    /// The number clients send in `HELLO` and read back in its `proto` field.
    pub fn number(self) -> i64 {
        match self {
            Proto::Resp2 => 2,
            Proto::Resp3 => 3,
        }
    }
}

/// One reply, independent of the protocol version it will be encoded in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// `+OK`: a status line (never contains CR or LF).
    Simple(Cow<'static, str>),
    /// `-ERR ...`: the full error line without the leading `-`, prefix included
    /// (`ERR`, `WRONGPASS`, `NOPROTO`, ...).
    Error(Cow<'static, str>),
    /// `:42`.
    Integer(i64),
    /// `$3\r\nabc`: binary-safe.
    Bulk(Bytes),
    /// A missing value: `$-1` on RESP2, `_` on RESP3.
    Null,
    /// A missing array (aborted `EXEC` in Redis): `*-1` on RESP2, `_` on RESP3.
    NullArray,
    /// `*n`.
    Array(Vec<Frame>),
    /// `~n` on RESP3 (an unordered set, e.g. `COMMAND`'s flags), `*n` on RESP2.
    Set(Vec<Frame>),
    /// `%n` on RESP3, a flat `*2n` array of keys and values on RESP2.
    Map(Vec<(Frame, Frame)>),
    /// `=len\r\ntxt:...` on RESP3 (INFO), a plain bulk string on RESP2.
    Verbatim(Bytes),
}

impl Frame {
    /// The `+OK` reply.
    pub const fn ok() -> Frame {
        Frame::Simple(Cow::Borrowed("OK"))
    }

    /// A status reply from a static string.
    pub const fn simple(s: &'static str) -> Frame {
        Frame::Simple(Cow::Borrowed(s))
    }

    /// An error reply from a static text (which must carry its prefix, e.g. `ERR`).
    pub const fn error(s: &'static str) -> Frame {
        Frame::Error(Cow::Borrowed(s))
    }

    /// An error reply built at run time. Like Redis's `addReplyErrorFormat`, CR and
    /// LF are turned into spaces so client-supplied text cannot break the framing.
    pub fn error_owned(s: String) -> Frame {
        if s.contains(['\r', '\n']) {
            Frame::Error(Cow::Owned(s.replace(['\r', '\n'], " ")))
        } else {
            Frame::Error(Cow::Owned(s))
        }
    }

    /// A bulk string copied from a static string (field names, INFO text).
    pub fn bulk_static(s: &'static str) -> Frame {
        Frame::Bulk(Bytes::from_static(s.as_bytes()))
    }

    /// A bulk string from an owned string.
    pub fn bulk_string(s: String) -> Frame {
        Frame::Bulk(Bytes::from(s))
    }

    /// `Some(v)` as a bulk string, `None` as a null.
    pub fn bulk_or_null(v: Option<Bytes>) -> Frame {
        v.map_or(Frame::Null, Frame::Bulk)
    }

    /// Appends the wire form of this frame in protocol `proto` to `out`.
    pub fn encode(&self, proto: Proto, out: &mut BytesMut) {
        match self {
            Frame::Simple(s) => line(out, b'+', s.as_bytes()),
            Frame::Error(s) => line(out, b'-', s.as_bytes()),
            Frame::Integer(n) => integer_line(out, b':', *n),
            Frame::Bulk(b) => bulk(out, b'$', b),
            Frame::Null => match proto {
                Proto::Resp2 => out.put_slice(b"$-1\r\n"),
                Proto::Resp3 => out.put_slice(b"_\r\n"),
            },
            Frame::NullArray => match proto {
                Proto::Resp2 => out.put_slice(b"*-1\r\n"),
                Proto::Resp3 => out.put_slice(b"_\r\n"),
            },
            Frame::Array(items) | Frame::Set(items) => {
                let tag = match (self, proto) {
                    (Frame::Set(_), Proto::Resp3) => b'~',
                    _ => b'*',
                };
                integer_line(out, tag, len_i64(items.len()));
                for item in items {
                    item.encode(proto, out);
                }
            }
            Frame::Map(pairs) => {
                match proto {
                    Proto::Resp2 => integer_line(out, b'*', len_i64(pairs.len()) * 2),
                    Proto::Resp3 => integer_line(out, b'%', len_i64(pairs.len())),
                }
                for (k, v) in pairs {
                    k.encode(proto, out);
                    v.encode(proto, out);
                }
            }
            Frame::Verbatim(b) => match proto {
                Proto::Resp2 => bulk(out, b'$', b),
                Proto::Resp3 => {
                    integer_line(out, b'=', len_i64(b.len() + 4));
                    out.put_slice(b"txt:");
                    out.put_slice(b);
                    out.put_slice(b"\r\n");
                }
            },
        }
    }
}

/// Collection sizes always fit in an `i64` on 64-bit targets; saturate instead of
/// panicking anywhere else.
fn len_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn line(out: &mut BytesMut, tag: u8, body: &[u8]) {
    out.reserve(body.len() + 3);
    out.put_u8(tag);
    out.put_slice(body);
    out.put_slice(b"\r\n");
}

fn bulk(out: &mut BytesMut, tag: u8, body: &[u8]) {
    out.reserve(body.len() + 24);
    integer_line(out, tag, len_i64(body.len()));
    out.put_slice(body);
    out.put_slice(b"\r\n");
}

/// `tag` followed by the decimal form of `n` and CRLF, formatted without going
/// through `fmt` (this runs once per reply on the hot path).
fn integer_line(out: &mut BytesMut, tag: u8, n: i64) {
    out.put_u8(tag);
    write_i64(out, n);
    out.put_slice(b"\r\n");
}

/// Appends the decimal digits of `n`.
pub fn write_i64(out: &mut BytesMut, n: i64) {
    let mut buf = [0u8; 20];
    let mut pos = buf.len();
    // unsigned_abs covers i64::MIN, whose absolute value does not fit in an i64.
    let mut v = n.unsigned_abs();
    loop {
        pos -= 1;
        // `v % 10` is below 10, so the cast cannot truncate.
        buf[pos] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if n < 0 {
        out.put_u8(b'-');
    }
    out.put_slice(&buf[pos..]);
}

// ----- Error replies shared by many commands (texts are Redis 7.0's). -----

/// `-ERR syntax error`.
pub fn err_syntax() -> Frame {
    Frame::error("ERR syntax error")
}

/// `-ERR value is not an integer or out of range`.
pub fn err_not_integer() -> Frame {
    Frame::error("ERR value is not an integer or out of range")
}

/// `-ERR wrong number of arguments for 'name' command` (name in lower case,
/// `parent|sub` for subcommands).
pub fn err_arity(name: &str) -> Frame {
    Frame::error_owned(format!(
        "ERR wrong number of arguments for '{name}' command"
    ))
}

/// `-ERR invalid expire time in 'name' command`.
pub fn err_expire_time(name: &str) -> Frame {
    Frame::error_owned(format!("ERR invalid expire time in '{name}' command"))
}

/// `-ERR unknown subcommand 'x'. Try PARENT HELP.`
pub fn err_unknown_subcommand(sub: &[u8], parent: &str) -> Frame {
    let sub = String::from_utf8_lossy(truncate(sub, 128));
    Frame::error_owned(format!(
        "ERR unknown subcommand '{sub}'. Try {parent} HELP."
    ))
}

/// An engine failure surfaced to the client as a generic error.
pub fn err_engine(e: &ccbitcask_engine::Error) -> Frame {
    Frame::error_owned(format!("ERR {e}"))
}

/// At most `max` bytes of `b` (Redis cuts echoed arguments at 128 characters).
pub fn truncate(b: &[u8], max: usize) -> &[u8] {
    b.get(..max).unwrap_or(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(f: &Frame, p: Proto) -> Vec<u8> {
        let mut out = BytesMut::new();
        f.encode(p, &mut out);
        out.to_vec()
    }

    #[test]
    fn integers_encode_like_redis() {
        assert_eq!(enc(&Frame::Integer(0), Proto::Resp2), b":0\r\n");
        assert_eq!(enc(&Frame::Integer(-42), Proto::Resp2), b":-42\r\n");
        assert_eq!(
            enc(&Frame::Integer(i64::MIN), Proto::Resp2),
            b":-9223372036854775808\r\n"
        );
    }

    #[test]
    fn nulls_and_maps_depend_on_protocol() {
        assert_eq!(enc(&Frame::Null, Proto::Resp2), b"$-1\r\n");
        assert_eq!(enc(&Frame::Null, Proto::Resp3), b"_\r\n");
        let m = Frame::Map(vec![(Frame::bulk_static("a"), Frame::Integer(1))]);
        assert_eq!(enc(&m, Proto::Resp2), b"*2\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(enc(&m, Proto::Resp3), b"%1\r\n$1\r\na\r\n:1\r\n");
        let v = Frame::Verbatim(Bytes::from_static(b"x"));
        assert_eq!(enc(&v, Proto::Resp3), b"=5\r\ntxt:x\r\n");
    }

    #[test]
    fn errors_never_carry_newlines() {
        let f = Frame::error_owned("ERR a\r\nb".to_string());
        assert_eq!(enc(&f, Proto::Resp2), b"-ERR a  b\r\n");
    }
}
