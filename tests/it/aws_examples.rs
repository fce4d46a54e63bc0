//! The example records of the AWS documentation parse to exactly the documented values.

use std::fs;

use flowlake::convert::{ConvertOptions, NoProgress, convert};
use flowlake::storage::Location;

use crate::common::*;

fn convert_one(header: &str, record: &str) -> Vec<(String, Option<String>)> {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.log");
    fs::write(&input, format!("{header}\n{record}\n")).unwrap();
    let lake = dir.path().join("lake");
    let r = convert(&ConvertOptions::new(vec![Location::Local(input)], Location::Local(lake.clone())), &NoProgress)
        .unwrap();
    assert_eq!((r.rows_written, r.rows_rejected), (1, 0));
    let t = read_table(&lake);
    let b = &t[0].1;
    b.schema().fields().iter().map(|f| (f.name().clone(), cell(b, f.name(), 0))).collect()
}

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

#[test]
fn version_2_default_record() {
    let got = convert_one(
        "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status",
        "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK",
    );
    let want = [
        ("version", s("2")),
        ("account_id", s("123456789010")),
        ("interface_id", s("eni-1235b8ca123456789")),
        ("srcaddr", s("172.31.16.139")),
        ("dstaddr", s("172.31.16.21")),
        ("srcport", s("20641")),
        ("dstport", s("22")),
        ("protocol", s("6")),
        ("packets", s("20")),
        ("bytes", s("4249")),
        ("start", s("1418530010")),
        ("end", s("1418530070")),
        ("action", s("ACCEPT")),
        ("log_status", s("OK")),
    ];
    let want: Vec<(String, Option<String>)> = want.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    assert_eq!(got, want);
}

#[test]
fn nodata_record_keeps_its_window() {
    let got = convert_one(
        "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status",
        "2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA",
    );
    let non_null: Vec<&str> = got.iter().filter(|(_, v)| v.is_some()).map(|(k, _)| k.as_str()).collect();
    assert_eq!(non_null, ["version", "account_id", "interface_id", "start", "end", "log_status"]);
    assert_eq!(got[13].1.as_deref(), Some("NODATA"));
}

#[test]
fn version_3_custom_record() {
    let got = convert_one(
        "version vpc-id subnet-id instance-id interface-id account-id type srcaddr dstaddr srcport dstport pkt-srcaddr pkt-dstaddr protocol bytes packets start end action tcp-flags log-status",
        "3 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-01234567890123456 eni-1235b8ca123456789 123456789010 IPv4 10.0.0.62 52.213.180.42 5001 43418 10.0.0.62 52.213.180.42 6 63388 1219 1566848933 1566849113 ACCEPT 1 OK",
    );
    // Columns come out in the catalog's order, whatever the header's order.
    let want = [
        ("version", s("3")),
        ("account_id", s("123456789010")),
        ("interface_id", s("eni-1235b8ca123456789")),
        ("srcaddr", s("10.0.0.62")),
        ("dstaddr", s("52.213.180.42")),
        ("srcport", s("5001")),
        ("dstport", s("43418")),
        ("protocol", s("6")),
        ("packets", s("1219")),
        ("bytes", s("63388")),
        ("start", s("1566848933")),
        ("end", s("1566849113")),
        ("action", s("ACCEPT")),
        ("log_status", s("OK")),
        ("vpc_id", s("vpc-abcdefab012345678")),
        ("subnet_id", s("subnet-aaaaaaaa012345678")),
        ("instance_id", s("i-01234567890123456")),
        ("tcp_flags", s("1")),
        ("type", s("IPv4")),
        ("pkt_srcaddr", s("10.0.0.62")),
        ("pkt_dstaddr", s("52.213.180.42")),
    ];
    let want: Vec<(String, Option<String>)> = want.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    assert_eq!(got, want);
}
