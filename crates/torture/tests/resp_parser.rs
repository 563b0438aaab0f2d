//! Stable-toolchain version of `fuzz/fuzz_targets/resp_parser.rs`: the server's RESP
//! request parser never panics, parses any well-formed request back to its exact
//! arguments, and gives the same requests (or the same error) however the bytes are
//! split across reads.
//!
//! `PROPTEST_CASES=20000 cargo test -p ccbitcask-torture --test resp_parser` for a long run.

use bytes::{Bytes, BytesMut};
use ccbitcask_server::parse::{Limits, RequestParser};
use proptest::prelude::*;

type Outcome = (Vec<Vec<Bytes>>, Option<String>);

fn parse_chunks(chunks: &[&[u8]], auth: bool) -> Outcome {
    let mut p = RequestParser::new(Limits {
        max_bulk_len: 1 << 16,
        max_multibulk_len: 1 << 10,
    });
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        loop {
            let mut need = 0;
            match p.next(&mut buf, auth, &mut need) {
                Ok(Some(args)) => out.push(args.to_vec()),
                Ok(None) => break,
                Err(e) => return (out, Some(e.reply_text())),
            }
        }
    }
    (out, None)
}

fn encode(args: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(512)
}

/// Well-formed requests, optionally followed by bytes that may be anything.
fn stream() -> impl Strategy<Value = (Vec<Vec<Vec<u8>>>, Vec<u8>)> {
    (
        prop::collection::vec(
            prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 1..6),
            0..5,
        ),
        prop_oneof![
            Just(Vec::new()),
            prop::collection::vec(any::<u8>(), 0..64),
            prop::collection::vec(
                prop_oneof![
                    Just(b'*'),
                    Just(b'$'),
                    Just(b'\r'),
                    Just(b'\n'),
                    Just(b'-'),
                    b'0'..=b'9'
                ],
                0..64
            ),
        ],
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn requests_round_trip_and_chunking_is_invisible(
        (requests, tail) in stream(),
        step in 1usize..17,
        auth: bool,
    ) {
        let mut bytes = Vec::new();
        for r in &requests {
            bytes.extend_from_slice(&encode(r));
        }
        let prefix = bytes.len();
        bytes.extend_from_slice(&tail);
        let whole = parse_chunks(&[&bytes], true);
        // Every well-formed request comes back exactly (when authenticated, so the
        // pre-AUTH limits do not apply).
        prop_assert!(whole.0.len() >= requests.len(), "{:?}", whole);
        for (got, want) in whole.0.iter().zip(&requests) {
            let got: Vec<&[u8]> = got.iter().map(|b| b.as_ref()).collect();
            let want: Vec<&[u8]> = want.iter().map(Vec::as_slice).collect();
            prop_assert_eq!(got, want);
        }
        prop_assert!(prefix <= bytes.len());
        // Chunking changes nothing, authenticated or not.
        let chunks: Vec<&[u8]> = bytes.chunks(step).collect();
        prop_assert_eq!(parse_chunks(&chunks, auth), parse_chunks(&[&bytes], auth));
    }

    #[test]
    fn garbage_never_panics_and_chunking_is_invisible(
        bytes in prop::collection::vec(any::<u8>(), 0..256),
        step in 1usize..9,
    ) {
        let chunks: Vec<&[u8]> = bytes.chunks(step).collect();
        prop_assert_eq!(parse_chunks(&chunks, false), parse_chunks(&[&bytes], false));
    }
}
