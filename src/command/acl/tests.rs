//! The rules and descriptions against what redis-server 7.0.15 answered for the same rules.

use bytes::Bytes;

use super::*;

fn rules(words: &[&str]) -> Vec<Bytes> {
    words.iter().map(|word| Bytes::copy_from_slice(word.as_bytes())).collect()
}

fn described(words: &[&str]) -> String {
    let mut users = Users::default();
    let name = Bytes::from_static(b"u");
    users.set_user(&name, &rules(words)).unwrap();
    String::from_utf8(users.get(b"u").unwrap().describe()).unwrap()
}

#[test]
fn descriptions_are_redis_7_0s() {
    assert_eq!(described(&[]), "off resetchannels -@all");
    assert_eq!(described(&["reset"]), "off sanitize-payload resetchannels -@all");
    assert_eq!(
        described(&[
            "on",
            ">pw",
            "+@string",
            "-get",
            "+client|list",
            "~a*",
            "%R~b*",
            "&ch*",
            "(+set ~x*)"
        ]),
        "on #30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4 ~a* %R~b* \
         resetchannels &ch* -@all +@string +client|list -get (~x* resetchannels -@all +set)"
    );
    assert_eq!(
        described(&["+@all", "-@dangerous", "+flushdb"]),
        "off resetchannels +@all -@admin -flushall -info -keys -migrate -restore -restore-asking \
         -sort -sort_ro -swapdb"
    );
    assert_eq!(
        described(&["on", "nopass", "-@all", "+acl", "+auth"]),
        "on nopass resetchannels -@all +acl +auth"
    );
    assert_eq!(
        described(&[
            "resetkeys",
            "%RW~a",
            "%R~b",
            "%W~c",
            "~d",
            "allchannels",
            "+select|0",
            "(",
            "~a)"
        ]),
        "off ~a %R~b %W~c ~d &* -@all +select|0 (~a resetchannels -@all)"
    );
    assert_eq!(described(&["%R"]), "off %R~ resetchannels -@all");
}

#[test]
fn rule_errors_are_redis_texts() {
    let mut users = Users::default();
    let name = Bytes::from_static(b"x");
    let error = |users: &mut Users, words: &[&str]| {
        users.set_user(&name, &rules(words)).unwrap_err().message()
    };
    assert_eq!(
        error(&mut users, &["+nosuch"]),
        "ERR Error in ACL SETUSER modifier '+nosuch': Unknown command or category name in ACL"
    );
    assert_eq!(
        error(&mut users, &["badrule"]),
        "ERR Error in ACL SETUSER modifier 'badrule': Syntax error"
    );
    assert_eq!(
        error(&mut users, &["%~b"]),
        "ERR Error in ACL SETUSER modifier '%~b': Syntax error"
    );
    assert!(error(&mut users, &["allkeys", "~a"]).contains("'allkeys' flag"));
    assert!(error(&mut users, &["allchannels", "&a"]).contains("'allchannels' flag"));
    assert_eq!(
        error(&mut users, &["+client|list|x"]),
        "ERR Error in ACL SETUSER modifier '+client|list|x': Allowing first-arg of a subcommand is not supported"
    );
    assert_eq!(
        error(&mut users, &["(~a"]),
        "ERR Unmatched parenthesis in acl selector starting at '(~a'."
    );
    assert!(error(&mut users, &["#ABC"]).contains("64 characters"));
    assert!(error(&mut users, &["!abc"]).contains("64 characters"));
    // A failed SETUSER changes nothing, not even the rules before the bad one.
    assert!(users.get(b"x").is_none());
}

#[test]
fn passwords_are_checked_by_digest() {
    let mut users = Users::default();
    let name = Bytes::from_static(b"a");
    users
        .set_user(
            &name,
            &rules(&["on", "#30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4"]),
        )
        .unwrap();
    let user = users.get(b"a").unwrap();
    assert!(user.password_matches(b"pw"));
    assert!(!user.password_matches(b"px"));
    users.set_user(&name, &rules(&["off"])).unwrap();
    assert!(!users.get(b"a").unwrap().password_matches(b"pw"));
}

#[test]
fn descriptions_give_the_same_users_back() {
    let mut users = Users::default();
    for (name, words) in [
        ("a", vec!["on", ">x", "+@string", "-get", "~a*", "&c", "(+set ~x* %W~y)"]),
        ("b", vec!["+@all", "-@dangerous", "+flushdb", "+select|0"]),
        ("default", vec!["resetpass", ">secret"]),
    ] {
        users.set_user(&Bytes::from(name), &rules(&words)).unwrap();
    }
    let again = Users::from_descriptions(&users.to_descriptions()).unwrap();
    // Equal as ACL LIST shows them (a first argument of an allowed command is kept by neither
    // Redis nor Concord in a description: it allows nothing more).
    assert_eq!(again.to_descriptions(), users.to_descriptions());
    assert_eq!(again.get(b"default").unwrap().flags(), ["on"]);
}
