//! Property tests of the request parser: arbitrary bytes never panic and never
//! make it claim more than it was given; a valid request split at any point
//! parses to the same arguments as when it arrives whole.

use bytes::{Bytes, BytesMut};
use ccbitcask_server::parse::{Limits, RequestParser};
use proptest::prelude::*;

fn limits() -> Limits {
    Limits {
        max_bulk_len: 1 << 20,
        max_multibulk_len: 1024,
    }
}

/// Feeds `chunks` one after another, collecting every request parsed, until a
/// protocol error (returned as `Err`).
fn feed(chunks: &[&[u8]], authenticated: bool) -> Result<Vec<Vec<Bytes>>, String> {
    let mut parser = RequestParser::new(limits());
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        let mut need = 0;
        loop {
            match parser.next(&mut buf, authenticated, &mut need) {
                Ok(Some(req)) => out.push(req.to_vec()),
                Ok(None) => break,
                Err(e) => return Err(e.reply_text()),
            }
        }
    }
    Ok(out)
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

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048), auth in any::<bool>()) {
        let _ = feed(&[&data], auth);
    }

    #[test]
    fn protocol_shaped_bytes_never_panic(
        parts in proptest::collection::vec(
            prop_oneof![
                Just(b"*".to_vec()), Just(b"$".to_vec()), Just(b"\r\n".to_vec()),
                Just(b"-1".to_vec()), Just(b"0".to_vec()), Just(b"3".to_vec()),
                Just(b"\"".to_vec()), Just(b"'".to_vec()), Just(b"\\x4".to_vec()),
                proptest::collection::vec(any::<u8>(), 0..8),
            ],
            0..64,
        )
    ) {
        let data: Vec<u8> = parts.concat();
        let _ = feed(&[&data], true);
    }

    #[test]
    fn a_valid_request_split_anywhere_parses_the_same(
        args in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 1..8),
        cut in any::<prop::sample::Index>(),
        cut2 in any::<prop::sample::Index>(),
    ) {
        let mut wire = encode(&args);
        wire.extend(encode(&args[..1]));
        let whole = feed(&[&wire], true).unwrap();
        let expected: Vec<Vec<Bytes>> = vec![
            args.iter().map(|a| Bytes::from(a.clone())).collect(),
            vec![Bytes::from(args[0].clone())],
        ];
        prop_assert_eq!(&whole, &expected);
        let (mut a, mut b) = (cut.index(wire.len() + 1), cut2.index(wire.len() + 1));
        if a > b { std::mem::swap(&mut a, &mut b); }
        let split = feed(&[&wire[..a], &wire[a..b], &wire[b..]], true).unwrap();
        prop_assert_eq!(split, expected);
    }

    #[test]
    fn inline_requests_split_anywhere_parse_the_same(
        words in proptest::collection::vec("[a-zA-Z0-9]{1,10}", 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let line = format!("{}\r\n", words.join(" "));
        let wire = line.as_bytes();
        let at = cut.index(wire.len() + 1);
        let got = feed(&[&wire[..at], &wire[at..]], true).unwrap();
        let expected: Vec<Bytes> = words.iter().map(|w| Bytes::from(w.clone())).collect();
        prop_assert_eq!(got, vec![expected]);
    }
}
