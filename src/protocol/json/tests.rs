//! The reader and writer against hand-written cases (serde_json agreement: `protocol::fuzz`).

use super::*;

fn round(text: &str) -> String {
    parse(text).unwrap().to_json_string()
}

#[test]
fn reads_and_writes_the_grammar() {
    assert_eq!(
        round(r#" {"a" : [1, -2, 3.5, true, false, null, "x\ny"], "b":{}} "#),
        r#"{"a":[1,-2,3.5,true,false,null,"x\ny"],"b":{}}"#
    );
    assert_eq!(round("18446744073709551615"), "18446744073709551615");
    assert_eq!(round("-9223372036854775808"), "-9223372036854775808");
    assert_eq!(
        parse("18446744073709551616").unwrap(),
        Json::Num(Num::F(1.8446744073709552e19))
    );
    assert_eq!(parse("-0").unwrap(), Json::Num(Num::U(0)));
    assert_eq!(parse("1E2").unwrap(), Json::Num(Num::F(100.0)));
    assert_eq!(
        round(r#""\u00e9\ud83d\ude00\/\b\f""#),
        "\"é😀/\\u0008\\u000c\""
    );
}

#[test]
fn fractions_are_read_to_within_a_few_ulps() {
    for text in [
        "0.1",
        "15.3",
        "-2.5e-3",
        "1e308",
        "4.9e-324",
        "2.2250738585072014e-308",
        "123456789012345678901234567890",
        "0.000000000000000000000000012345",
        "1E2",
        "9007199254740993.0",
        "3.141592653589793238462643383279",
        "-0.0",
        "1e-400",
    ] {
        let want: f64 = text.parse().unwrap();
        let got = parse(text).unwrap().as_f64().unwrap();
        let tolerance = want.abs() * 8.0 * f64::EPSILON;
        assert!(
            (got - want).abs() <= tolerance.max(f64::MIN_POSITIVE),
            "{text}: {got} vs {want}"
        );
    }
    // Digits and exponent balance however long they are.
    let long = String::from("0.") + &"0".repeat(200_000) + "1e200001";
    assert_eq!(parse(&long).unwrap().as_f64(), Some(1.0));
    assert_eq!(number_in(" 12.5 "), Some(12.5));
    assert_eq!(number_in("12px"), None);
    assert_eq!(number_in("1e999"), None);
}

#[test]
fn refuses_what_is_not_json() {
    for bad in [
        "",
        "{",
        "[1,]",
        "{\"a\":1,}",
        "01",
        "1.",
        "1e",
        "-",
        "+1",
        "tru",
        "nul",
        "\"\\x\"",
        "\"\\ud800\"",
        "\"\\udc00\"",
        "\"\u{1}\"",
        "\"abc",
        "{1:2}",
        "[1 2]",
        "1 2",
        "NaN",
        "{\"a\" 1}",
    ] {
        assert!(parse(bad).is_err(), "{bad:?} parsed");
    }
    // Valid grammar beyond f64's range reads as infinity, which no typed field takes.
    assert_eq!(
        parse("-1e400").unwrap(),
        Json::Num(Num::F(f64::NEG_INFINITY))
    );
    assert!(u64::from_json(&parse("1E309").unwrap()).is_err());
    let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
    assert_eq!(parse(&deep).unwrap_err().what, "nested too deeply");
    let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
    assert!(parse(&ok).is_ok());
}

#[test]
fn a_repeated_key_keeps_its_last_value() {
    let v = parse(r#"{"a":1,"a":2}"#).unwrap();
    assert_eq!(v.get("a").and_then(Json::as_u64), Some(2));
}

#[test]
fn decode_errors_name_the_path() {
    let v = parse(r#"{"xs":[{"n":1},{"n":"2"}]}"#).unwrap();
    #[derive(Debug)]
    struct N(#[allow(dead_code)] u32);
    impl FromJson for N {
        fn from_json(v: &Json) -> Result<Self, DecodeError> {
            Ok(N(Fields::of(v)?.req("n")?))
        }
    }
    let e = Fields::of(&v).unwrap().req::<Vec<N>>("xs").unwrap_err();
    assert_eq!(
        e.message(),
        "xs[1].n: expected an integer from 0 to 4294967295"
    );
    let e = Fields::of(&v).unwrap().req::<u8>("missing").unwrap_err();
    assert_eq!(
        e.message(),
        "missing: expected a value (the field is missing)"
    );
}

#[test]
fn strings_escape_what_json_requires() {
    let mut s = String::new();
    write_str(&mut s, "a\"b\\c\u{1f}\u{7f}é");
    assert_eq!(s, "\"a\\\"b\\\\c\\u001f\u{7f}é\"");
    assert_eq!(parse(&s).unwrap(), Json::Str("a\"b\\c\u{1f}\u{7f}é".into()));
}
