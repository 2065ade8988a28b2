//! Serde round trips for the configuration types, the form a product writes a policy in,
//! and the serialized decisions and entries.
#![cfg(feature = "serde")]

use c2trie::event::{Connection, MatchEvent};
use c2trie::policy::{EmbeddedV4, Encoding, Reason};
use c2trie::swap::FailMode;
use c2trie::{Compiler, List, Meta, Mode, Policy, Verdict};
use serde_json::{Value, json};

fn round_trip<T>(v: &T) -> T
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    serde_json::from_str(&serde_json::to_string(v).unwrap()).unwrap()
}

#[test]
fn enums_round_trip_as_their_names() {
    for m in Mode::ALL {
        assert_eq!(round_trip(&m), m);
        assert_eq!(serde_json::to_value(m).unwrap(), json!(m.as_str()));
    }
    for v in Verdict::ALL {
        assert_eq!(round_trip(&v), v);
        assert_eq!(serde_json::to_value(v).unwrap(), json!(v.as_str()));
    }
    for e in Encoding::ALL {
        assert_eq!(round_trip(&e), e);
        assert_eq!(serde_json::to_value(e).unwrap(), json!(e.as_str()));
    }
    for (f, name) in [(FailMode::Open, "open"), (FailMode::Closed, "closed")] {
        assert_eq!(round_trip(&f), f);
        assert_eq!(serde_json::to_value(f).unwrap(), json!(name));
    }
    for (r, name) in [
        (Reason::Listed, "listed"),
        (Reason::Unlisted, "unlisted"),
        (Reason::NoTable, "no_table"),
    ] {
        assert_eq!(round_trip(&r), r);
        assert_eq!(serde_json::to_value(r).unwrap(), json!(name));
    }
    // The command line's other spelling of log mode is read too.
    assert_eq!(
        serde_json::from_str::<Mode>(r#""log-only""#).unwrap(),
        Mode::LogOnly
    );
    assert!(serde_json::from_str::<Mode>(r#""Block""#).is_err());
    assert!(serde_json::from_str::<FailMode>(r#""shut""#).is_err());
}

#[test]
fn embedded_round_trips_as_names_and_prefixes() {
    let cases = [
        EmbeddedV4::all(),
        EmbeddedV4::none(),
        EmbeddedV4::none().with(Encoding::Isatap, true),
        {
            let mut e = EmbeddedV4::all().with(Encoding::TeredoClient, false);
            e.add_nat64_prefix("2001:db8:64::/96".parse().unwrap())
                .unwrap();
            e.add_nat64_prefix("2001:db8:100::/40".parse().unwrap())
                .unwrap();
            e
        },
    ];
    for e in cases {
        assert_eq!(round_trip(&e), e);
    }
    assert_eq!(
        serde_json::to_value(EmbeddedV4::all()).unwrap(),
        json!({
            "encodings": Encoding::ALL.map(|e| e.as_str()),
            "nat64_prefixes": [],
        })
    );
    assert_eq!(
        serde_json::to_value(EmbeddedV4::none()).unwrap(),
        json!({"encodings": [], "nat64_prefixes": []})
    );
}

#[test]
fn embedded_refuses_what_it_cannot_keep() {
    let err = |s: &str| {
        serde_json::from_str::<EmbeddedV4>(s)
            .unwrap_err()
            .to_string()
    };
    let e = err(r#"{"nat64_prefixes": ["2001:db8::/33"]}"#);
    assert!(
        e.contains("2001:db8::/33") && e.contains("RFC 6052 allows 32, 40, 48, 56, 64 or 96"),
        "{e}"
    );
    let e = err(r#"{"encodings": ["mapped", "teredo"]}"#);
    assert!(e.contains("teredo"), "{e}");
    assert!(serde_json::from_str::<EmbeddedV4>(r#"{"nat64_prefixes": ["192.0.2.0/24"]}"#).is_err());
    assert!(err(r#"{"enabled": []}"#).contains("enabled"));
    // Host bits are cleared and repeats kept once, as add_nat64_prefix does.
    let e: EmbeddedV4 = serde_json::from_str(
        r#"{"encodings": [], "nat64_prefixes": ["2001:db8:64::1/96", "2001:db8:64::/96"]}"#,
    )
    .unwrap();
    assert_eq!(e.nat64_prefixes(), ["2001:db8:64::/96".parse().unwrap()]);
    assert!(Encoding::ALL.iter().all(|x| !e.is_enabled(*x)));
}

#[test]
fn policy_round_trips() {
    let mut p = Policy::new(Mode::Off, Mode::LogOnly);
    p.embedded.set(Encoding::Compatible, false);
    p.embedded
        .add_nat64_prefix("2001:db8:122:344::/64".parse().unwrap())
        .unwrap();
    for p in [Policy::default(), p] {
        assert_eq!(round_trip(&p), p);
    }
    assert_eq!(
        serde_json::to_value(Policy::default()).unwrap(),
        json!({
            "global": "log",
            "blocked": "block",
            "embedded": {"encodings": Encoding::ALL.map(|e| e.as_str()), "nat64_prefixes": []},
        })
    );
}

/// A policy as a product keeps it in its configuration, and what it loads to.
#[test]
fn a_product_policy_file_loads() {
    let config = r#"
    {
        "global": "block",
        "blocked": "log-only",
        "embedded": {
            "encodings": ["mapped", "translated", "nat64", "nat64-operator", "6to4", "isatap"],
            "nat64_prefixes": ["2001:db8:64::/96", "2001:db8:122::/48"]
        }
    }"#;
    let p: Policy = serde_json::from_str(config).unwrap();
    assert_eq!((p.global, p.blocked), (Mode::Block, Mode::LogOnly));
    for (e, on) in [
        (Encoding::Mapped, true),
        (Encoding::Compatible, false),
        (Encoding::Translated, true),
        (Encoding::Nat64WellKnown, true),
        (Encoding::Nat64LocalUse, false),
        (Encoding::Nat64Operator, true),
        (Encoding::SixToFour, true),
        (Encoding::TeredoServer, false),
        (Encoding::TeredoClient, false),
        (Encoding::Isatap, true),
    ] {
        assert_eq!(p.embedded.is_enabled(e), on, "{e}");
    }
    assert_eq!(p.embedded.nat64_prefixes().len(), 2);

    // It decides as the same policy built in code.
    let mut c = Compiler::new();
    c.add(
        List::Global,
        "192.0.2.0/24".parse().unwrap(),
        "v",
        Meta::default(),
    )
    .unwrap();
    let t = c.build().unwrap();
    let d = p.decide(&t, "2001:db8:64::192.0.2.1".parse().unwrap());
    assert_eq!(d.verdict(), Verdict::Block);
    assert_eq!(d.via(), Some(Encoding::Nat64Operator));

    // Missing keys take the defaults; an empty object is the default policy.
    assert_eq!(
        serde_json::from_str::<Policy>("{}").unwrap(),
        Policy::default()
    );
    let p: Policy = serde_json::from_str(r#"{"blocked": "off"}"#).unwrap();
    assert_eq!((p.global, p.blocked), (Mode::LogOnly, Mode::Off));
    assert_eq!(p.embedded, EmbeddedV4::all());
    // Mistakes are refused, not ignored.
    for bad in [
        r#"{"global": "deny"}"#,
        r#"{"globl": "block"}"#,
        r#"{"embedded": {"encodings": ["6to5"]}}"#,
        r#"{"embedded": {"nat64_prefixes": ["64:ff9b::/95"]}}"#,
    ] {
        assert!(serde_json::from_str::<Policy>(bad).is_err(), "{bad}");
    }
}

#[test]
fn entries_serialize_their_list_prefix_source_and_metadata() {
    let mut c = Compiler::new();
    c.add(
        List::Global,
        "2001:db8::/32".parse().unwrap(),
        "vendor",
        Meta::tagged("botnet").with_risk(90).with_expires(u64::MAX),
    )
    .unwrap();
    c.add(
        List::Approved,
        "198.51.100.7/32".parse().unwrap(),
        "",
        Meta::default(),
    )
    .unwrap();
    let t = c.build().unwrap();
    let all: Vec<Value> = t
        .entries()
        .map(|e| serde_json::to_value(e).unwrap())
        .collect();
    assert_eq!(
        all,
        [
            json!({"list": "approved", "prefix": "198.51.100.7/32", "source": ""}),
            json!({
                "list": "global",
                "prefix": "2001:db8::/32",
                "source": "vendor",
                "tag": "botnet",
                "risk": 90,
                "expires": u64::MAX,
            }),
        ]
    );
}

/// A decision's keys are the ones `MatchEvent` has for the same values.
#[test]
fn decisions_serialize_with_match_event_field_names() {
    let mut c = Compiler::new();
    c.list_version(5);
    c.add(
        List::Blocked,
        "192.0.2.0/24".parse().unwrap(),
        "ops",
        Meta::tagged("c2").with_risk(70),
    )
    .unwrap();
    let t = c.build().unwrap();
    let p = Policy::default();

    let d = p.decide(&t, "2002:c000:209::1".parse().unwrap());
    let v = serde_json::to_value(d).unwrap();
    assert_eq!(
        v,
        json!({
            "verdict": "block",
            "ip": "2002:c000:209::1",
            "list": "blocked",
            "prefix": "192.0.2.0/24",
            "source": "ops",
            "tag": "c2",
            "risk": 70,
            "list_version": 5,
            "reason": "listed",
            "embedded": "6to4",
            "matched_ip": "192.0.2.9",
        })
    );
    // The same values under the same names as the event's fields.
    let ev = MatchEvent::new(&d, &Connection::default(), std::time::UNIX_EPOCH);
    assert_eq!(v["verdict"], json!(ev.verdict));
    assert_eq!(v["list"], json!(ev.list));
    assert_eq!(v["prefix"], json!(ev.prefix));
    assert_eq!(v["source"], json!(ev.source));
    assert_eq!(v["tag"], json!(ev.tag));
    assert_eq!(v["risk"], json!(ev.risk));
    assert_eq!(v["list_version"], json!(ev.list_version));
    assert_eq!(v["reason"], json!(ev.reason));
    assert_eq!(v["embedded"], json!(ev.embedded));
    assert_eq!(v["matched_ip"], json!(ev.matched_ip));
    assert_eq!(v["ip"], json!(ev.remote_ip));

    let d = p.decide(&t, "198.51.100.1".parse().unwrap());
    assert_eq!(
        serde_json::to_value(d).unwrap(),
        json!({"verdict": "pass", "ip": "198.51.100.1", "list_version": 5, "reason": "unlisted"})
    );
}
