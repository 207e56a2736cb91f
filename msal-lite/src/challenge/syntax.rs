//! Character classes of RFC 7230 §3.2.6 and RFC 7235 §2.1, shared by the parser, the builder
//! and the renderer.

/// `tchar` (RFC 7230 §3.2.6): the characters of a `token`.
pub(crate) const fn is_tchar(b: u8) -> bool {
    matches!(b,
        b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.'
        | b'^' | b'_' | b'`' | b'|' | b'~'
        | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z')
}

/// The non-padding characters of a `token68` (RFC 7235 §2.1).
pub(crate) const fn is_token68_char(b: u8) -> bool {
    matches!(b,
        b'-' | b'.' | b'_' | b'~' | b'+' | b'/'
        | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z')
}

/// Control characters that no header field value may carry (everything below SP except HTAB,
/// and DEL).
pub(crate) const fn is_ctl(b: u8) -> bool {
    (b < 0x20 && b != b'\t') || b == 0x7f
}

/// Whether `s` is a non-empty `token`.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

/// Whether `s` is a `token68`: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
pub(crate) fn is_token68(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    !body.is_empty() && body.bytes().all(is_token68_char)
}
