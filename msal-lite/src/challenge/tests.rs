//! Unit tests for the module's internals; the table-driven and property tests of the public
//! API are in `tests/challenge_*.rs`.

use super::syntax::{is_token, is_token68};
use super::*;

#[test]
fn errors_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<ChallengeError>();
}

#[test]
fn token_and_token68_classes() {
    assert!(is_token("Bearer"));
    assert!(is_token("x-ms_cc.1~"));
    assert!(!is_token(""));
    assert!(!is_token("a b"));
    assert!(!is_token("a/b"));
    assert!(!is_token("é"));
    assert!(is_token68("abc"));
    assert!(is_token68("a/b+c=="));
    assert!(!is_token68("=="));
    assert!(!is_token68("a=b"));
    assert!(!is_token68(""));
}

#[test]
fn duplicate_error_names_are_bounded() {
    let name = "n".repeat(1000);
    let header = format!("Bearer {name}=1, {name}=2");
    match parse_www_authenticate(&header) {
        Err(ChallengeError::DuplicateParam { name }) => assert_eq!(name.len(), 64),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn error_messages_do_not_echo_values() {
    let err = parse_www_authenticate(r#"Bearer secret="s3cr3t"#).unwrap_err();
    assert!(!err.to_string().contains("s3cr3t"), "{err}");
}
