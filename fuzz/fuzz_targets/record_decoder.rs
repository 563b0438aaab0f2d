//! The record decoder never panics, and whatever it accepts re-encodes to the same bytes
//! (so a CRC-valid record is exactly what the writer would have written).
#![no_main]

use ccbitcask_engine::format::record::{decode, decode_header, encode, RECORD_HEADER_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let header = decode_header(data);
    if let Ok(meta) = decode(data) {
        let (h, _) = header.expect("decode accepted what decode_header rejected");
        assert_eq!(h, meta);
        let len = usize::try_from(meta.record_len()).unwrap();
        let key_end = RECORD_HEADER_LEN + meta.key_len as usize;
        let again = encode(
            &meta,
            &data[RECORD_HEADER_LEN..key_end],
            &data[key_end..len],
        );
        assert_eq!(&again[..], &data[..len]);
        assert!(!meta.is_tombstone() || meta.value_len == 0);
    }
});
