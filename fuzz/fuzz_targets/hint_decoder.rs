//! The hint-entry decoder never panics, never reads past its input, and whatever entry it
//! accepts re-encodes to the same bytes.
#![no_main]

use ccbitcask_engine::format::hint::{decode, encode_entry, trailer_bytes, Decoded};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match decode(data) {
        None => {}
        Some(Decoded::Entry { entry, key, len }) => {
            assert!(len <= data.len());
            let mut again = Vec::new();
            encode_entry(&mut again, &entry, key);
            assert_eq!(&again[..], &data[..len]);
        }
        Some(Decoded::Trailer {
            count,
            data_len,
            crc,
        }) => {
            let again = trailer_bytes(count, data_len, crc);
            assert_eq!(&again[..], &data[..again.len()]);
        }
    }
});
