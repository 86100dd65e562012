//! Tests of the shared test helpers themselves (`tests/support/`): the differential
//! harness's reply parser, script reader, comparison rules and rendering. They live in their
//! own test binary so that they run once, not in every binary that declares `mod support;`.

mod support;

mod compare {
    use super::support::compare::*;
    use super::support::reply::{parse, Outcome, Reply};
    use super::support::script::Rule;

    fn reply(bytes: &[u8]) -> Reply {
        parse(bytes).unwrap().expect("a complete reply").0
    }

    fn agree(rule: Rule, expected: &[u8], actual: &[u8]) -> bool {
        replies_agree(&rule, &reply(expected), &reply(actual))
    }

    #[test]
    fn exact_means_every_byte() {
        assert!(agree(Rule::Exact, b"$1\r\na\r\n", b"$1\r\na\r\n"));
        assert!(!agree(Rule::Exact, b"$1\r\na\r\n", b"+a\r\n"));
        assert!(!agree(Rule::Exact, b"-ERR a\r\n", b"-ERR b\r\n"));
    }

    #[test]
    fn type_rule_compares_only_the_type_byte() {
        assert!(agree(Rule::Type, b":1\r\n", b":99\r\n"));
        assert!(agree(Rule::Type, b"$-1\r\n", b"$1\r\nx\r\n"));
        assert!(!agree(Rule::Type, b":1\r\n", b"$1\r\n1\r\n"));
    }

    #[test]
    fn shape_rule_compares_structure_not_contents() {
        let time_a = b"*2\r\n$10\r\n1700000000\r\n$6\r\n123456\r\n";
        let time_b = b"*2\r\n$10\r\n1700000001\r\n$5\r\n12345\r\n";
        assert!(agree(Rule::Shape, time_a, time_b));
        assert!(!agree(Rule::Shape, time_a, b"*1\r\n$1\r\n1\r\n"));
        assert!(!agree(Rule::Shape, b"$-1\r\n", b"$1\r\nx\r\n"));
    }

    #[test]
    fn int_rule_allows_the_tolerance_and_no_more() {
        assert!(agree(Rule::IntWithin(1), b":100\r\n", b":99\r\n"));
        assert!(!agree(Rule::IntWithin(1), b":100\r\n", b":98\r\n"));
        assert!(agree(Rule::IntWithin(1), b"*2\r\n:5\r\n$1\r\na\r\n", b"*2\r\n:6\r\n$1\r\na\r\n"));
        assert!(!agree(Rule::IntWithin(1), b"*2\r\n:5\r\n$1\r\na\r\n", b"*2\r\n:5\r\n$1\r\nb\r\n"));
        assert!(!agree(Rule::IntWithin(5), b":1\r\n", b"-ERR x\r\n"));
    }

    #[test]
    fn sorted_rule_ignores_order_but_not_duplicates() {
        let ab = b"*2\r\n$1\r\na\r\n$1\r\nb\r\n";
        let ba = b"*2\r\n$1\r\nb\r\n$1\r\na\r\n";
        let aa = b"*2\r\n$1\r\na\r\n$1\r\na\r\n";
        assert!(agree(Rule::Sorted, ab, ba));
        assert!(!agree(Rule::Sorted, ab, aa));
        assert!(!agree(Rule::Sorted, ab, b"~2\r\n$1\r\nb\r\n$1\r\na\r\n"));
        assert!(agree(
            Rule::Sorted,
            b"%2\r\n+a\r\n:1\r\n+b\r\n:2\r\n",
            b"%2\r\n+b\r\n:2\r\n+a\r\n:1\r\n"
        ));
        assert!(!agree(
            Rule::Sorted,
            b"%2\r\n+a\r\n:1\r\n+b\r\n:2\r\n",
            b"%2\r\n+b\r\n:1\r\n+a\r\n:2\r\n"
        ));
    }

    #[test]
    fn except_fields_rule_loosens_only_the_named_values() {
        let redis = b"%3\r\n$6\r\nserver\r\n$5\r\nredis\r\n$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:7\r\n";
        let other =
            b"%3\r\n$6\r\nserver\r\n$7\r\nconcord\r\n$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:9\r\n";
        let wrong_proto =
            b"%3\r\n$6\r\nserver\r\n$5\r\nredis\r\n$5\r\nproto\r\n:2\r\n$2\r\nid\r\n:7\r\n";
        let fields = vec![b"server".to_vec(), b"id".to_vec()];
        assert!(agree(Rule::ExceptFields(fields.clone()), redis, other));
        assert!(!agree(Rule::ExceptFields(fields.clone()), redis, wrong_proto));
        let resp2 = b"*4\r\n$6\r\nserver\r\n$5\r\nredis\r\n$2\r\nid\r\n:7\r\n";
        let resp2_other = b"*4\r\n$6\r\nserver\r\n$1\r\nx\r\n$2\r\nid\r\n:8\r\n";
        assert!(agree(Rule::ExceptFields(fields), resp2, resp2_other));
    }

    #[test]
    fn a_closed_connection_agrees_only_with_a_closed_connection() {
        let pong = Outcome::Reply(reply(b"+PONG\r\n"));
        assert!(outcomes_agree(&Rule::Exact, &Outcome::Closed, &Outcome::Closed));
        assert!(!outcomes_agree(&Rule::Exact, &Outcome::Closed, &pong));
        assert!(!outcomes_agree(&Rule::Ignore, &pong, &Outcome::Failed("timeout".into())));
    }
}

mod render {
    use super::support::render::*;

    #[test]
    fn escapes_control_bytes_quotes_and_high_bytes() {
        assert_eq!(escape(b"+OK\r\n"), r#""+OK\r\n""#);
        assert_eq!(escape(b"a\"b\\c\x00\xff\t"), r#""a\"b\\c\x00\xff\t""#);
    }

    #[test]
    fn long_replies_are_cut_with_a_count_of_what_was_left_out() {
        let rendered = escape_truncated(&[b'a'; RENDER_BYTES_MAX + 10]);
        assert!(rendered.ends_with("... (10 more bytes)"), "{rendered}");
    }
}

mod reply {
    use super::support::reply::*;

    fn parse_whole(bytes: &[u8]) -> Value {
        let (reply, used) = parse(bytes).unwrap().expect("a complete reply");
        assert_eq!(used, bytes.len(), "the reply should use every byte");
        assert_eq!(reply.raw, bytes, "the reply should keep its raw bytes");
        reply.value
    }

    #[test]
    fn parses_every_resp2_type() {
        assert_eq!(parse_whole(b"+OK\r\n"), Value::Simple(b"OK".to_vec()));
        assert_eq!(parse_whole(b"-ERR x\r\n"), Value::Error(b"ERR x".to_vec()));
        assert_eq!(parse_whole(b":-12\r\n"), Value::Integer(-12));
        assert_eq!(parse_whole(b"$3\r\na\r\n\r\n"), Value::Bulk(Some(b"a\r\n".to_vec())));
        assert_eq!(parse_whole(b"$0\r\n\r\n"), Value::Bulk(Some(Vec::new())));
        assert_eq!(parse_whole(b"$-1\r\n"), Value::Bulk(None));
        assert_eq!(parse_whole(b"*-1\r\n"), Value::Array(None));
        assert_eq!(parse_whole(b"*0\r\n"), Value::Array(Some(Vec::new())));
    }

    #[test]
    fn parses_every_resp3_type() {
        assert_eq!(parse_whole(b"_\r\n"), Value::Null);
        assert_eq!(parse_whole(b"#t\r\n"), Value::Boolean(true));
        assert_eq!(parse_whole(b",1.5\r\n"), Value::Double(b"1.5".to_vec()));
        assert_eq!(parse_whole(b"(123\r\n"), Value::BigNumber(b"123".to_vec()));
        assert_eq!(parse_whole(b"!3\r\nERR\r\n"), Value::BulkError(b"ERR".to_vec()));
        assert_eq!(parse_whole(b"=7\r\ntxt:abc\r\n"), Value::Verbatim(b"txt:abc".to_vec()));
        let Value::Map(pairs) = parse_whole(b"%2\r\n+a\r\n:1\r\n+b\r\n*1\r\n_\r\n") else {
            panic!("expected a map");
        };
        assert_eq!(pairs.len(), 2);
        assert_eq!(pairs[1].1.raw, b"*1\r\n_\r\n");
        assert!(matches!(parse_whole(b"~1\r\n:1\r\n"), Value::Set(set) if set.len() == 1));
        assert!(matches!(parse_whole(b">2\r\n+a\r\n+b\r\n"), Value::Push(push) if push.len() == 2));
    }

    #[test]
    fn nested_elements_keep_their_own_raw_bytes() {
        let Value::Array(Some(outer)) = parse_whole(b"*2\r\n*1\r\n$1\r\nx\r\n:5\r\n") else {
            panic!("expected an array");
        };
        assert_eq!(outer[0].raw, b"*1\r\n$1\r\nx\r\n");
        assert_eq!(outer[1].raw, b":5\r\n");
    }

    #[test]
    fn an_incomplete_reply_asks_for_more_bytes_at_every_cut() {
        let whole: &[u8] = b"*3\r\n$3\r\nfoo\r\n%1\r\n+k\r\n,2.5\r\n$-1\r\n";
        for cut in 0..whole.len() {
            assert_eq!(parse(&whole[..cut]), Ok(None), "cut at byte {cut}");
        }
        assert!(parse(whole).unwrap().is_some());
    }

    #[test]
    fn bytes_after_the_first_reply_are_left_for_the_next() {
        let (reply, used) = parse(b"+A\r\n+B\r\n").unwrap().unwrap();
        assert_eq!(reply.raw, b"+A\r\n");
        assert_eq!(used, 4);
    }

    #[test]
    fn malformed_replies_are_errors_not_hangs() {
        assert!(parse(b"?x\r\n").is_err());
        assert!(parse(b":abc\r\n").is_err());
        assert!(parse(b"$3\r\nabcd\r\n").is_err());
        assert!(parse(b"*-2\r\n").is_err());
        assert!(parse(b"|1\r\n+a\r\n+b\r\n+c\r\n").is_err());
    }
}

mod script {
    use super::support::script::*;

    fn words(line: &str) -> Vec<Vec<u8>> {
        split_arguments(line).unwrap()
    }

    #[test]
    fn splits_like_redis_cli() {
        assert_eq!(words("SET k  v"), vec![b"SET".to_vec(), b"k".to_vec(), b"v".to_vec()]);
        assert_eq!(words(r#"SET "a b" """#), vec![b"SET".to_vec(), b"a b".to_vec(), Vec::new()]);
        assert_eq!(words(r#""\x00\xff\r\n\"\\""#), vec![b"\x00\xff\r\n\"\\".to_vec()]);
        assert_eq!(words(r"'a\'b\n'"), vec![b"a'b\\n".to_vec()]);
        assert_eq!(words(r#""\xzz""#), vec![b"xzz".to_vec()]);
    }

    #[test]
    fn rejects_unbalanced_or_glued_quotes() {
        assert!(split_arguments(r#"SET "abc"#).is_err());
        assert!(split_arguments("SET 'abc").is_err());
        assert!(split_arguments(r#"SET "a"b"#).is_err());
    }

    #[test]
    fn parses_rules_and_directives_with_line_numbers() {
        let source = "# comment\n\nGET k\n~int 2 TTL k\n~except-fields server,id HELLO 3\n\
                      @conn other\n~type @raw \"PING\\r\\n\"\n@scan-all SCAN MATCH k*\n@sleep 5\n";
        let lines = parse_script(source).unwrap();
        assert_eq!(lines[0].number, 3);
        assert_eq!(lines[1].step, Step::Command { rule: Rule::IntWithin(2), args: words("TTL k") });
        assert_eq!(
            lines[2].step,
            Step::Command {
                rule: Rule::ExceptFields(vec![b"server".to_vec(), b"id".to_vec()]),
                args: words("HELLO 3")
            }
        );
        assert_eq!(lines[3].step, Step::Connection { name: "other".into() });
        assert_eq!(lines[4].step, Step::Raw { rule: Rule::Type, bytes: b"PING\r\n".to_vec() });
        assert_eq!(Step::scan_layout(&words("SCAN MATCH k*")), (1, 1));
        assert_eq!(Step::scan_layout(&words("hscan h")), (2, 2));
        assert_eq!(lines.len(), 7);
    }

    #[test]
    fn script_mistakes_are_errors_naming_the_line() {
        let error = parse_script("GET a\n~typo GET b\n").unwrap_err();
        assert!(error.starts_with("line 2: unknown rule"), "{error}");
        assert!(parse_script("@bogus").is_err());
        assert!(parse_script("~type @conn a").is_err());
        assert!(parse_script("~int x TTL k").is_err());
        assert!(parse_script("@sleep 999999").is_err());
        assert!(parse_script("@scan-all GET k").is_err());
        assert!(parse_script("~sorted").is_err());
    }

    #[test]
    fn requests_are_multibulk_arrays() {
        assert_eq!(encode_request(&words("GET k")), b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
    }
}
