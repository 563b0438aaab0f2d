//! Request parsing: RESP multibulk arrays and inline commands, check-then-parse.
//!
//! Like mini-redis, parsing happens in two passes. `RequestParser::check` walks
//! the buffer without allocating and answers "a whole request of N bytes is
//! here", "not yet" or "protocol error". Only then is the request split off the
//! buffer, frozen, and its arguments taken as zero-copy slices of it.
//!
//! Unlike mini-redis, every length is bounded before anything is reserved: a
//! client claiming `$4294967296` or `*2147483648` gets Redis's protocol error
//! instead of making the buffer grow. The checker also remembers how far it got
//! in an incomplete request, so a huge request arriving in many small reads is
//! scanned once, not once per read (Redis keeps the same state in `client`).
//!
//! The texts of protocol errors are Redis 7.0's (`networking.c`).

use bytes::{Bytes, BytesMut};
use smallvec::SmallVec;

/// One request's arguments, command name first. Up to three are held inline, so
/// the argument list of a `GET` or a `SET` costs no `malloc` and no `free`.
pub type Request = SmallVec<[Bytes; 3]>;

/// Longest line (inline command or `*`/`$` header) accepted without its CRLF,
/// Redis's `PROTO_INLINE_MAX_SIZE`.
pub const MAX_INLINE: usize = 64 * 1024;

/// Before `AUTH`, Redis 7 accepts at most this many arguments per request...
const UNAUTH_MAX_MULTIBULK: i64 = 10;
/// ...and arguments of at most this many bytes, so an anonymous client cannot
/// make the server buffer much before proving it knows the password.
const UNAUTH_MAX_BULK: i64 = 16 * 1024;

/// Bounds applied to every request.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest accepted argument (`proto-max-bulk-len`, default 512 MiB).
    pub max_bulk_len: usize,
    /// Largest accepted argument count.
    pub max_multibulk_len: usize,
}

/// Why a request cannot be parsed. The connection replies
/// `-ERR Protocol error: <text>` and closes, as Redis does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolError {
    /// A text from Redis's list (`invalid bulk length`, ...).
    Message(&'static str),
    /// `expected '$', got 'c'`: carries the offending byte.
    ExpectedDollar(u8),
}

impl ProtocolError {
    /// The full error reply text (without the leading `-`).
    pub fn reply_text(&self) -> String {
        match self {
            ProtocolError::Message(m) => format!("ERR Protocol error: {m}"),
            ProtocolError::ExpectedDollar(c) => {
                format!("ERR Protocol error: expected '$', got '{}'", char::from(*c))
            }
        }
    }
}

/// What the checker found at the front of the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Checked {
    /// A complete multibulk request of `len` bytes; its arguments are in `spans`.
    Multibulk { len: usize },
    /// A complete inline line of `len` bytes (including its `\n`).
    Inline { len: usize },
    /// More bytes are needed; at least `need` in total, when known.
    Incomplete { need: usize },
}

/// Where the checker stopped inside an incomplete multibulk request.
#[derive(Debug, Clone, Copy, Default)]
struct Resume {
    /// Offset of the next `$` header.
    pos: usize,
    /// Arguments already found complete.
    done: usize,
    /// Total argument count from the `*` header.
    argc: usize,
}

/// Splits requests off a connection's read buffer.
#[derive(Debug)]
pub struct RequestParser {
    limits: Limits,
    /// Progress in the request at the front of the buffer. Valid because the
    /// buffer only ever loses bytes at the front when a request is complete.
    resume: Option<Resume>,
    /// (offset, length) in the buffer of each argument the checker has found
    /// complete in that request, so splitting it never parses a header again.
    spans: Vec<(usize, usize)>,
}

impl RequestParser {
    /// A parser that enforces `limits`.
    pub fn new(limits: Limits) -> RequestParser {
        RequestParser {
            limits,
            resume: None,
            spans: Vec::new(),
        }
    }

    /// Takes the next complete request off the front of `buf`.
    ///
    /// `Ok(None)`: no complete request yet (`need` is set to the total number of
    /// bytes the request needs when the checker knows it, so the caller can
    /// reserve once). `Ok(Some(args))` may hold zero arguments (`*0`, an empty
    /// inline line), which the caller skips without a reply, like Redis.
    pub fn next(
        &mut self,
        buf: &mut BytesMut,
        authenticated: bool,
        need: &mut usize,
    ) -> Result<Option<Request>, ProtocolError> {
        match self.check(buf, authenticated)? {
            Checked::Incomplete { need: n } => {
                *need = n;
                Ok(None)
            }
            Checked::Multibulk { len } => {
                self.resume = None;
                let frame = buf.split_to(len).freeze();
                Ok(Some(
                    self.spans
                        .drain(..)
                        .map(|(at, n)| frame.slice(at..at + n))
                        .collect(),
                ))
            }
            Checked::Inline { len } => {
                let frame = buf.split_to(len).freeze();
                split_inline(&frame).map(Some)
            }
        }
    }

    fn check(&mut self, buf: &[u8], authenticated: bool) -> Result<Checked, ProtocolError> {
        let Some(&first) = buf.first() else {
            return Ok(Checked::Incomplete { need: 0 });
        };
        if first != b'*' {
            return check_inline(buf);
        }
        let mut st = match self.resume {
            Some(r) => r,
            None => {
                self.spans.clear();
                let Some(cr) = find_cr(buf, 1) else {
                    if buf.len() > MAX_INLINE {
                        return Err(ProtocolError::Message("too big mbulk count string"));
                    }
                    return Ok(Checked::Incomplete { need: 0 });
                };
                let count = parse_i64(&buf[1..cr])
                    .ok_or(ProtocolError::Message("invalid multibulk length"))?;
                // Redis checks the hard limit before the anonymous one.
                if count > i64::try_from(self.limits.max_multibulk_len).unwrap_or(i64::MAX) {
                    return Err(ProtocolError::Message("invalid multibulk length"));
                }
                if !authenticated && count > UNAUTH_MAX_MULTIBULK {
                    return Err(ProtocolError::Message("unauthenticated multibulk length"));
                }
                let header = cr + 2;
                if count <= 0 {
                    // `*0` and `*-1` are consumed without a reply.
                    return Ok(Checked::Multibulk { len: header });
                }
                Resume {
                    pos: header,
                    done: 0,
                    // 0 < count <= max_multibulk_len, which is a usize.
                    argc: usize::try_from(count).unwrap_or(usize::MAX),
                }
            }
        };
        while st.done < st.argc {
            let Some(&tag) = buf.get(st.pos) else {
                self.resume = Some(st);
                return Ok(Checked::Incomplete { need: 0 });
            };
            if tag != b'$' {
                return Err(ProtocolError::ExpectedDollar(tag));
            }
            let Some(cr) = find_cr(buf, st.pos + 1) else {
                if buf.len() - st.pos > MAX_INLINE {
                    return Err(ProtocolError::Message("too big bulk count string"));
                }
                self.resume = Some(st);
                return Ok(Checked::Incomplete { need: 0 });
            };
            let max = i64::try_from(self.limits.max_bulk_len).unwrap_or(i64::MAX);
            let len = match parse_i64(&buf[st.pos + 1..cr]) {
                Some(n) if (0..=max).contains(&n) => n,
                _ => return Err(ProtocolError::Message("invalid bulk length")),
            };
            if !authenticated && len > UNAUTH_MAX_BULK {
                return Err(ProtocolError::Message("unauthenticated bulk length"));
            }
            // 0 <= len <= max_bulk_len, which is a usize.
            let len = usize::try_from(len).unwrap_or(usize::MAX);
            // Redis skips the two bytes after the payload without looking at
            // them, and so do we (byte-compatible, and harmless).
            let end = (cr + 4).saturating_add(len);
            if end > buf.len() {
                self.resume = Some(st);
                return Ok(Checked::Incomplete { need: end });
            }
            self.spans.push((cr + 2, len));
            st.pos = end;
            st.done += 1;
        }
        self.resume = None;
        Ok(Checked::Multibulk { len: st.pos })
    }
}

/// Finds the `\r` of a `\r\n` line ending at or after `from`; `None` until the
/// `\n` after it has arrived too (Redis looks for the `\r` and then requires one
/// more byte).
fn find_cr(buf: &[u8], from: usize) -> Option<usize> {
    let rest = buf.get(from..)?;
    let off = rest.iter().position(|&b| b == b'\r')?;
    let cr = from + off;
    (cr + 1 < buf.len()).then_some(cr)
}

fn check_inline(buf: &[u8]) -> Result<Checked, ProtocolError> {
    match buf.iter().position(|&b| b == b'\n') {
        Some(nl) => Ok(Checked::Inline { len: nl + 1 }),
        None if buf.len() > MAX_INLINE => Err(ProtocolError::Message("too big inline request")),
        None => Ok(Checked::Incomplete { need: 0 }),
    }
}

/// Splits an inline line into arguments the way Redis's `sdssplitargs` does:
/// whitespace separates, `"..."` understands `\n \r \t \b \a \\ \xHH`, `'...'`
/// understands only `\'`, and a closing quote must be followed by a space.
pub fn split_inline(line: &[u8]) -> Result<Request, ProtocolError> {
    const UNBALANCED: ProtocolError = ProtocolError::Message("unbalanced quotes in request");
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut args = Request::new();
    let mut i = 0;
    loop {
        while line.get(i).is_some_and(|c| is_space(*c)) {
            i += 1;
        }
        if i >= line.len() {
            return Ok(args);
        }
        let mut cur = Vec::new();
        let (mut in_dq, mut in_sq) = (false, false);
        loop {
            let c = line.get(i).copied();
            if in_dq {
                let Some(c) = c else { return Err(UNBALANCED) };
                let next = line.get(i + 1).copied();
                if c == b'\\' && next == Some(b'x') {
                    let hex = (line.get(i + 2).copied(), line.get(i + 3).copied());
                    if let (Some(h), Some(l)) = (hex_val(hex.0), hex_val(hex.1)) {
                        cur.push(h * 16 + l);
                        i += 4;
                        continue;
                    }
                }
                if c == b'\\' && next.is_some() {
                    cur.push(match next.unwrap_or_default() {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        other => other,
                    });
                    i += 2;
                } else if c == b'"' {
                    if next.is_some_and(|n| !is_space(n)) {
                        return Err(UNBALANCED);
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(c);
                    i += 1;
                }
            } else if in_sq {
                let Some(c) = c else { return Err(UNBALANCED) };
                let next = line.get(i + 1).copied();
                if c == b'\\' && next == Some(b'\'') {
                    cur.push(b'\'');
                    i += 2;
                } else if c == b'\'' {
                    if next.is_some_and(|n| !is_space(n)) {
                        return Err(UNBALANCED);
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(c);
                    i += 1;
                }
            } else {
                match c {
                    None => break,
                    Some(b' ' | b'\n' | b'\r' | b'\t' | 0) => {
                        i += 1;
                        break;
                    }
                    Some(b'"') => in_dq = true,
                    Some(b'\'') => in_sq = true,
                    Some(other) => cur.push(other),
                }
                i += 1;
            }
        }
        args.push(Bytes::from(cur));
    }
}

/// C's `isspace`.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn hex_val(c: Option<u8>) -> Option<u8> {
    let c = c?;
    char::from(c)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// Parses a decimal `i64` exactly as Redis's `string2ll` does: no sign `+`, no
/// leading zeros, no spaces, no `-0`, no empty string; `i64::MIN` is accepted.
/// (`str::parse` accepts `+1`, `01` and `-0`, so it cannot be used.)
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    match s {
        [] => None,
        [b'0'] => Some(0),
        [b'-', digits @ ..] => {
            let v = parse_magnitude(digits)?;
            // -(2^63) is the one magnitude that does not fit positive.
            if v == i64::MIN.unsigned_abs() {
                Some(i64::MIN)
            } else {
                i64::try_from(v).ok().map(|v| -v)
            }
        }
        digits => i64::try_from(parse_magnitude(digits)?).ok(),
    }
}

/// Digits `[1-9][0-9]*` as a `u64`, `None` on anything else or overflow.
fn parse_magnitude(digits: &[u8]) -> Option<u64> {
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    digits.iter().try_fold(0u64, |acc, &d| {
        if !d.is_ascii_digit() {
            return None;
        }
        acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            max_bulk_len: 512 << 20,
            max_multibulk_len: 1 << 20,
        }
    }

    fn parse_all(input: &[u8]) -> Result<Vec<Request>, ProtocolError> {
        let mut p = RequestParser::new(limits());
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        let mut need = 0;
        while let Some(req) = p.next(&mut buf, true, &mut need)? {
            out.push(req);
        }
        Ok(out)
    }

    #[test]
    fn strict_integers() {
        for bad in [
            "+1",
            "01",
            " 1",
            "1 ",
            "-0",
            "1e3",
            "",
            "-",
            "9223372036854775808",
        ] {
            assert_eq!(parse_i64(bad.as_bytes()), None, "{bad:?}");
        }
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-12"), Some(-12));
    }

    #[test]
    fn multibulk_and_inline() {
        let reqs = parse_all(b"*2\r\n$3\r\nGET\r\n$1\r\na\r\nPING\r\n\r\n*0\r\n").unwrap();
        assert_eq!(reqs.len(), 4);
        assert_eq!(reqs[0].to_vec(), vec![Bytes::from("GET"), Bytes::from("a")]);
        assert_eq!(reqs[1].to_vec(), vec![Bytes::from("PING")]);
        assert!(reqs[2].is_empty() && reqs[3].is_empty());
    }

    #[test]
    fn protocol_errors() {
        let e = |b: &[u8]| parse_all(b).unwrap_err().reply_text();
        assert_eq!(
            e(b"*1\r\n$abc\r\n"),
            "ERR Protocol error: invalid bulk length"
        );
        assert_eq!(
            e(b"*1\r\n$4294967296\r\n"),
            "ERR Protocol error: invalid bulk length"
        );
        assert_eq!(
            e(b"*abc\r\n"),
            "ERR Protocol error: invalid multibulk length"
        );
        assert_eq!(
            e(b"*1\r\n+PING\r\n"),
            "ERR Protocol error: expected '$', got '+'"
        );
        assert_eq!(
            e(b"SET a \"x y\r\n"),
            "ERR Protocol error: unbalanced quotes in request"
        );
    }

    #[test]
    fn inline_quotes() {
        let args = split_inline(b"SET a \"x\\ty\" 'it\\'s' \"\\x41\"\r\n").unwrap();
        assert_eq!(args.to_vec(), vec!["SET", "a", "x\ty", "it's", "A"]);
        assert!(split_inline(b"SET c \"a\"b").is_err());
    }

    #[test]
    fn incomplete_then_complete_with_resume() {
        let mut p = RequestParser::new(limits());
        let mut buf = BytesMut::from(&b"*2\r\n$3\r\nGET\r\n$5\r\nab"[..]);
        let mut need = 0;
        assert_eq!(p.next(&mut buf, true, &mut need).unwrap(), None);
        assert_eq!(need, 24);
        buf.extend_from_slice(b"cde\r\n");
        let req = p.next(&mut buf, true, &mut need).unwrap().unwrap();
        assert_eq!(req.to_vec(), vec!["GET", "abcde"]);
        assert!(buf.is_empty());
    }

    #[test]
    fn unauthenticated_limits() {
        let mut p = RequestParser::new(limits());
        let mut buf = BytesMut::from(&b"*11\r\n"[..]);
        let mut need = 0;
        let e = p.next(&mut buf, false, &mut need).unwrap_err();
        assert_eq!(
            e,
            ProtocolError::Message("unauthenticated multibulk length")
        );
    }
}
