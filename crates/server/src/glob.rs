//! Redis glob patterns for `KEYS`, `SCAN MATCH` and `CONFIG GET`.
//!
//! Same syntax as Redis's `stringmatchlen`: `*`, `?`, `[abc]`, `[^abc]`,
//! `[a-z]` and `\x` escapes. Redis matches `*` recursively, which is exponential
//! on patterns like `*a*a*a*a*b`; this matcher backtracks only to the last `*`,
//! which is enough because every other token consumes exactly one byte, so it
//! runs in O(pattern x subject) at worst.

/// Does `subject` match `pattern`?
pub fn matches(pattern: &[u8], subject: &[u8]) -> bool {
    let (mut p, mut s) = (0usize, 0usize);
    // Position after the last `*` and the subject position it was tried at.
    let mut star: Option<(usize, usize)> = None;
    while s < subject.len() {
        if let Some(next) = step(pattern, p, subject[s]) {
            match next {
                Step::Star => {
                    star = Some((p + 1, s));
                    p += 1;
                }
                Step::Consumed(np) => {
                    p = np;
                    s += 1;
                }
            }
            continue;
        }
        // Mismatch: let the last `*` swallow one more byte, if there was one.
        match star {
            Some((after, tried)) => {
                p = after;
                s = tried + 1;
                star = Some((after, tried + 1));
            }
            None => return false,
        }
    }
    while pattern.get(p) == Some(&b'*') {
        p += 1;
    }
    p == pattern.len()
}

enum Step {
    /// A `*` at this position.
    Star,
    /// The token matched one byte; the pattern continues at this index.
    Consumed(usize),
}

/// Tries the token at `pattern[p]` against byte `c`; `None` is a mismatch.
fn step(pattern: &[u8], p: usize, c: u8) -> Option<Step> {
    match *pattern.get(p)? {
        b'*' => Some(Step::Star),
        b'?' => Some(Step::Consumed(p + 1)),
        b'[' => {
            let (hit, next) = class(pattern, p + 1, c);
            hit.then_some(Step::Consumed(next))
        }
        b'\\' if p + 1 < pattern.len() => (pattern[p + 1] == c).then_some(Step::Consumed(p + 2)),
        other => (other == c).then_some(Step::Consumed(p + 1)),
    }
}

/// Matches `c` against the class starting after `[` at `i`; returns the result
/// and the index after the closing `]` (or the end, for an unclosed class,
/// which Redis also tolerates).
fn class(pattern: &[u8], mut i: usize, c: u8) -> (bool, usize) {
    let negate = pattern.get(i) == Some(&b'^');
    if negate {
        i += 1;
    }
    let mut hit = false;
    loop {
        match pattern.get(i) {
            None => return (hit != negate, i),
            Some(b']') => return (hit != negate, i + 1),
            Some(b'\\') if i + 1 < pattern.len() => {
                i += 1;
                hit |= pattern[i] == c;
            }
            Some(&lo) if pattern.get(i + 1) == Some(&b'-') && i + 2 < pattern.len() => {
                let hi = pattern[i + 2];
                let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
                hit |= (lo..=hi).contains(&c);
                i += 2;
            }
            Some(&x) => hit |= x == c,
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn redis_glob_cases() {
        assert!(matches(b"*", b""));
        assert!(matches(b"*", b"anything"));
        assert!(matches(b"h?llo", b"hello"));
        assert!(matches(b"h*llo", b"heeeello"));
        assert!(matches(b"h[ae]llo", b"hallo"));
        assert!(!matches(b"h[ae]llo", b"hillo"));
        assert!(matches(b"h[^e]llo", b"hallo"));
        assert!(!matches(b"h[^e]llo", b"hello"));
        assert!(matches(b"h[a-b]llo", b"hbllo"));
        assert!(matches(b"h\\*llo", b"h*llo"));
        assert!(!matches(b"h\\*llo", b"hello"));
        assert!(matches(b"key:*:x", b"key:12:x"));
        assert!(!matches(b"key:*:x", b"key:12:y"));
        assert!(matches(
            b"*a*a*a*a*a*a*a*a*b",
            &[b'a'; 64].iter().copied().chain([b'b']).collect::<Vec<_>>()
        ));
        assert!(!matches(b"*a*a*a*a*a*a*a*a*b", &[b'a'; 64]));
    }
}
