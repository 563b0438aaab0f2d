//! The RESP request parser never panics, and feeding the same bytes in arbitrary chunks
//! yields exactly the requests (or the error) that feeding them at once yields: the
//! parser's resume state across partial reads is invisible.
#![no_main]

use bytes::{Bytes, BytesMut};
use ccbitcask_server::parse::{Limits, RequestParser};
use libfuzzer_sys::fuzz_target;

type Outcome = (Vec<Vec<Bytes>>, Option<String>);

fn parse_all(chunks: &[&[u8]], auth: bool) -> Outcome {
    let limits = Limits {
        max_bulk_len: 1 << 16,
        max_multibulk_len: 1 << 10,
    };
    let mut p = RequestParser::new(limits);
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

fuzz_target!(|data: &[u8]| {
    let Some((&split_seed, data)) = data.split_first() else {
        return;
    };
    let auth = split_seed & 1 == 1;
    let whole = parse_all(&[data], auth);
    // Chunk sizes from the seed byte: 1..=16.
    let step = usize::from(split_seed >> 4) + 1;
    let chunks: Vec<&[u8]> = data.chunks(step).collect();
    let pieces = parse_all(&chunks, auth);
    assert_eq!(whole, pieces, "chunked by {step}");
});
