//! Enrichment (`--enrich`): lookup tables built here in the shapes AWS and MaxMind
//! document, a conversion that adds their answers as columns, read back by DuckDB and
//! pyarrow; a real country database checked against MaxMind's own reader; bad tables refused.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::common::*;

/// `ip-ranges.json` as AWS publishes it: every block under `AMAZON`, some again (or a
/// more specific block) under a service.
fn ip_ranges() -> Value {
    let e = |p: &str, region: &str, service: &str, nbg: &str| json!({"ip_prefix": p, "region": region, "service": service, "network_border_group": nbg});
    let e6 = |p: &str, region: &str, service: &str| json!({"ipv6_prefix": p, "region": region, "service": service, "network_border_group": region});
    json!({
        "syncToken": "1717245005",
        "createDate": "2024-06-01-12-30-05",
        "prefixes": [
            e("52.0.0.0/8", "us-east-1", "AMAZON", "us-east-1"),
            e("52.216.0.0/15", "us-east-1", "AMAZON", "us-east-1"),
            e("52.216.0.0/15", "us-east-1", "S3", "us-east-1"),
            e("52.216.8.0/24", "us-east-1", "EC2", "us-east-1"),
            e("15.230.0.0/24", "us-west-2", "AMAZON", "us-west-2-lax-1"),
        ],
        "ipv6_prefixes": [e6("2600:1f18::/32", "us-east-1", "EC2"), e6("2600:1f18::/32", "us-east-1", "AMAZON")]
    })
}

/// `aws ec2 describe-network-interfaces` output, in two files (two accounts): the same
/// private address in two VPCs, secondary, public and IPv6 addresses.
fn interfaces(dir: &Path) -> PathBuf {
    let inv = dir.join("inventory");
    fs::create_dir_all(&inv).unwrap();
    let a = json!({"NetworkInterfaces": [
        {"NetworkInterfaceId": "eni-0a1", "OwnerId": "111122223333", "VpcId": "vpc-a", "SubnetId": "subnet-a1",
         "InterfaceType": "interface", "Description": "web server", "RequesterManaged": false,
         "Attachment": {"InstanceId": "i-0aaa", "InstanceOwnerId": "111122223333"},
         "Groups": [{"GroupId": "sg-1", "GroupName": "web"}, {"GroupId": "sg-2", "GroupName": "ssh"}],
         "PrivateIpAddress": "10.0.0.5",
         "PrivateIpAddresses": [
             {"Primary": true, "PrivateIpAddress": "10.0.0.5", "Association": {"PublicIp": "54.1.2.3"}},
             {"Primary": false, "PrivateIpAddress": "10.0.0.6"}],
         "Ipv6Addresses": [{"Ipv6Address": "2600:1f18:1234::2b"}]},
        {"NetworkInterfaceId": "eni-0n1", "OwnerId": "111122223333", "VpcId": "vpc-a", "SubnetId": "subnet-a2",
         "InterfaceType": "nat_gateway", "Description": "Interface for NAT Gateway nat-0abc123",
         "RequesterId": "AROAEXAMPLE", "RequesterManaged": true, "Groups": [],
         "PrivateIpAddresses": [{"Primary": true, "PrivateIpAddress": "10.0.2.9"}]}
    ]});
    let b = json!({"NetworkInterfaces": [
        {"NetworkInterfaceId": "eni-0b1", "OwnerId": "444455556666", "VpcId": "vpc-b", "SubnetId": "subnet-b1",
         "InterfaceType": "network_load_balancer", "Description": "ELB net/edge/50dc6c495c0c9188",
         "RequesterId": "amazon-elb", "RequesterManaged": true,
         "PrivateIpAddresses": [{"Primary": true, "PrivateIpAddress": "10.0.0.5"}]}
    ]});
    fs::write(inv.join("111122223333.json"), serde_json::to_vec_pretty(&a).unwrap()).unwrap();
    fs::write(inv.join("444455556666.json"), serde_json::to_vec_pretty(&b).unwrap()).unwrap();
    // Not JSON output of the command: a folder's other files are not read.
    fs::write(inv.join("README.txt"), "inventory of 2024-06-01\n").unwrap();
    inv
}

/// A MaxMind DB written with `mmdb-writer`, in the record shapes of GeoLite2 (`country.iso_code`,
/// `autonomous_system_*`) and of ip-location-db (`country_code`): nested networks, IPv4 and
/// IPv6, an ASN above 65,535, and a private range (which enrichment never asks about).
fn geo_db(dir: &Path) -> PathBuf {
    let path = dir.join("geo.mmdb");
    let code = format!(
        r#"
from mmdb_writer import MMDBWriter
from netaddr import IPSet
w = MMDBWriter(ip_version=6, database_type="Test-Country-ASN", ipv4_compatible=True)
w.insert_network(IPSet(["81.0.0.0/8"]), {{"country_code": "se"}})
w.insert_network(IPSet(["81.2.69.0/24"]), {{"country": {{"iso_code": "GB"}}, "autonomous_system_number": 20712, "autonomous_system_organization": "Andrews & Arnold Ltd"}})
w.insert_network(IPSet(["2a02::/16"]), {{"country": {{"iso_code": "DE"}}}})
w.insert_network(IPSet(["2a02:1234::/32"]), {{"country": {{"iso_code": "FR"}}, "autonomous_system_number": 4200000001, "autonomous_system_organization": "Example SAS"}})
w.insert_network(IPSet(["10.0.0.0/8"]), {{"country_code": "ZZ"}})
w.to_db_file({path:?})
"#,
        path = path.display().to_string()
    );
    py(&["-c", &code]);
    path
}

const HEADER: &str = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status vpc-id pkt-srcaddr pkt-dstaddr";

/// Records whose addresses meet every case of the tables above.
fn records(dir: &Path) -> PathBuf {
    let input = dir.join("in");
    fs::create_dir_all(&input).unwrap();
    let rec = |eni: &str, src: &str, dst: &str, vpc: &str| {
        format!("5 111122223333 {eni} {src} {dst} 443 49152 6 10 840 1690848000 1690848060 ACCEPT OK {vpc} {src} {dst}")
    };
    let lines = [
        HEADER.to_string(),
        // A secondary address to the most specific of three nested AWS blocks.
        rec("eni-0a1", "10.0.0.6", "52.216.8.9", "vpc-a"),
        // A public address of an interface; the same private address in two VPCs.
        rec("eni-0a1", "54.1.2.3", "10.0.0.5", "vpc-a"),
        rec("eni-0b1", "10.0.0.5", "52.217.0.1", "vpc-b"),
        // IPv6: an interface's address, AWS's block; the inner of two nested networks.
        rec("eni-0a1", "2600:1f18:1234::2b", "2a02:1234::1", "vpc-a"),
        rec("eni-0a1", "2a02:99::1", "2600:1f18::7", "vpc-a"),
        // A country database's nested IPv4 networks; an AWS block only AMAZON lists.
        rec("eni-0n1", "81.2.69.160", "10.0.2.9", "vpc-a"),
        rec("eni-0n1", "81.9.9.9", "15.230.0.4", "vpc-a"),
        // Nobody's addresses, an interface the inventory lacks, no addresses at all.
        rec("eni-0zz", "192.0.2.44", "52.1.1.1", "-"),
        "5 111122223333 eni-0a1 - - - - - - - 1690848000 1690848060 - NODATA vpc-a - -".to_string(),
    ];
    fs::write(input.join("flows.log"), lines.join("\n") + "\n").unwrap();
    input
}

const COLUMNS: &[&str] = &[
    "srcaddr",
    "dstaddr",
    "src_aws_service",
    "src_owner",
    "src_account_id",
    "src_vpc_id",
    "src_country",
    "src_asn",
    "src_as_org",
    "dst_aws_service",
    "dst_aws_region",
    "dst_aws_border_group",
    "dst_owner",
    "dst_interface_type",
    "dst_country",
    "dst_asn",
    "pkt_dst_range_service",
    "eni_owner",
    "eni_security_groups",
];

fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().expect("sha256sum");
    String::from_utf8_lossy(&out.stdout).split(' ').next().unwrap().to_string()
}

#[test]
fn a_conversion_adds_who_is_behind_each_address() {
    let dir = tempfile::tempdir().unwrap();
    let ranges = dir.path().join("ip-ranges.json");
    fs::write(&ranges, serde_json::to_vec_pretty(&ip_ranges()).unwrap()).unwrap();
    let (inv, geo, input) = (interfaces(dir.path()), geo_db(dir.path()), records(dir.path()));
    let lake = dir.path().join("lake");
    let arg = |k: &str, p: &Path| format!("{k}={}", p.display());
    let (out, _) = flowlake_code(
        &[
            "convert",
            input.to_str().unwrap(),
            "-o",
            lake.to_str().unwrap(),
            "--json",
            "--enrich",
            &arg("aws-ip-ranges", &ranges),
            "--enrich",
            &arg("interfaces", &inv),
            "--enrich",
            &arg("geoip", &geo),
        ],
        0,
    );
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["rows_written"], 9);
    // The enrichment columns come after AWS's, in the documented order.
    let cols: Vec<String> = serde_json::from_value(report["columns"].clone()).unwrap();
    let first = cols.iter().position(|c| c.starts_with("src_")).unwrap();
    assert_eq!(&cols[..first].last().unwrap()[..], "pkt_dstaddr");
    assert!(
        cols[first..]
            .iter()
            .all(|c| c.starts_with("src_") || c.starts_with("dst_") || c.starts_with("pkt_") || c.starts_with("eni_"))
    );

    let s = |v: &str| v.to_string();
    let mut want = vec![
        // srcaddr dstaddr | src: aws owner account vpc country asn org | dst: aws region nbg owner type country asn | pkt_dst aws | eni owner groups
        s("10.0.0.6 52.216.8.9 - i-0aaa 111122223333 vpc-a - - - EC2 us-east-1 us-east-1 - - - - EC2 i-0aaa sg-1,sg-2"),
        s("54.1.2.3 10.0.0.5 - i-0aaa 111122223333 vpc-a - - - - - - i-0aaa interface - - - i-0aaa sg-1,sg-2"),
        s(
            "10.0.0.5 52.217.0.1 - net/edge/50dc6c495c0c9188 444455556666 vpc-b - - - S3 us-east-1 us-east-1 - - - - S3 net/edge/50dc6c495c0c9188 -",
        ),
        s(
            "2600:1f18:1234::2b 2a02:1234::1 EC2 i-0aaa 111122223333 vpc-a - - - - - - - - FR 4200000001 - i-0aaa sg-1,sg-2",
        ),
        s("2a02:99::1 2600:1f18::7 - - - - DE - - EC2 us-east-1 us-east-1 - - - - EC2 i-0aaa sg-1,sg-2"),
        s(
            "81.2.69.160 10.0.2.9 - - - - GB 20712 Andrews & Arnold Ltd - - - nat-0abc123 nat_gateway - - - nat-0abc123 -",
        ),
        s("81.9.9.9 15.230.0.4 - - - - SE - - AMAZON us-west-2 us-west-2-lax-1 - - - - AMAZON nat-0abc123 -"),
        s("192.0.2.44 52.1.1.1 - - - - - - - AMAZON us-east-1 us-east-1 - - - - AMAZON - -"),
        s("- - - - - - - - - - - - - - - - - i-0aaa sg-1,sg-2"),
    ];
    want.sort();
    assert_eq!(independent_rows(&lake, COLUMNS), want);

    // The report and the commit record each table: file, size, SHA-256, version.
    let used = report["enrichment"].as_array().unwrap();
    let files: Vec<&str> = used.iter().map(|u| u["file"].as_str().unwrap()).collect();
    let (a, b) = (inv.join("111122223333.json"), inv.join("444455556666.json"));
    assert_eq!(files, [ranges.to_str().unwrap(), geo.to_str().unwrap(), a.to_str().unwrap(), b.to_str().unwrap()]);
    for (u, path) in used.iter().zip([&ranges, &geo, &a, &b]) {
        assert_eq!(u["sha256"], sha256(path), "{}", path.display());
        assert_eq!(u["bytes"], fs::metadata(path).unwrap().len());
    }
    assert_eq!(used[0]["version"], "syncToken 1717245005, createDate 2024-06-01-12-30-05");
    assert!(used[1]["version"].as_str().unwrap().starts_with("Test-Country-ASN, built 20"), "{}", used[1]);
    assert_eq!((used[2]["table"].as_str(), used[2]["entries"].as_u64()), (Some("interfaces"), Some(3)));
    let commit = fs::read_to_string(lake.join("_flowlake/log/00000000000000000001.json")).unwrap();
    let commit: Value = serde_json::from_str(&commit).unwrap();
    assert_eq!(&commit["enrichment"], &report["enrichment"]);
}

/// An input field that would be an enrichment column (`src-owner`, a field this build
/// does not know): a run that enriches refuses its file (its line rejected, the report
/// naming the field and what to do); a run that does not keeps it as a column of its own.
#[test]
fn an_input_field_named_like_an_enrichment_column_is_refused_only_when_enriching() {
    let dir = tempfile::tempdir().unwrap();
    let (inv, input) = (interfaces(dir.path()), records(dir.path()));
    let odd = format!(
        "{HEADER} src-owner\n5 111122223333 eni-0a1 10.0.0.6 52.216.8.9 443 49152 6 10 840 1690848000 1690848060 \
         ACCEPT OK vpc-a 10.0.0.6 52.216.8.9 someone\n"
    );
    fs::write(input.join("odd.log"), odd).unwrap();
    let convert = |lake: &str, extra: &[&str]| -> Value {
        let args = [&["convert", input.to_str().unwrap(), "-o", lake, "--json"][..], extra].concat();
        serde_json::from_str(&flowlake_code(&args, 0).0).unwrap()
    };
    let enrich = format!("interfaces={}", inv.display());
    let enriched = dir.path().join("enriched");
    let r = convert(enriched.to_str().unwrap(), &["--enrich", &enrich]);
    assert_eq!(
        (r["rows_in"].as_u64(), r["rows_written"].as_u64(), r["rows_rejected"].as_u64()),
        (Some(10), Some(9), Some(1))
    );
    let unusable = r["files_unusable"].as_array().unwrap();
    assert_eq!(unusable.len(), 1, "{r}");
    assert!(unusable[0]["file"].as_str().unwrap().ends_with("odd.log"));
    assert_eq!(
        unusable[0]["reason"],
        "bad header line: the header's field `src-owner` would be the column `src_owner`, which --enrich adds to \
         the table; convert this input without --enrich"
    );
    assert_eq!(independent_rows(&enriched, &["srcaddr", "src_owner"]).len(), 9);
    let plain = dir.path().join("plain");
    let r = convert(plain.to_str().unwrap(), &[]);
    assert_eq!((r["rows_written"].as_u64(), r["rows_rejected"].as_u64()), (Some(10), Some(0)));
    let rows = independent_rows(&plain, &["srcaddr", "src_owner"]);
    assert_eq!(rows.iter().filter(|r| r.ends_with(" someone")).count(), 1, "{rows:?}");
}

#[test]
fn without_enrich_the_schema_stays_aws_own() {
    let dir = tempfile::tempdir().unwrap();
    let input = records(dir.path());
    let lake = dir.path().join("lake");
    let (out, _) = flowlake_code(&["convert", input.to_str().unwrap(), "-o", lake.to_str().unwrap(), "--json"], 0);
    let report: Value = serde_json::from_str(&out).unwrap();
    let cols: Vec<String> = serde_json::from_value(report["columns"].clone()).unwrap();
    let aws: Vec<String> = HEADER.split(' ').map(|f| f.replace('-', "_")).collect();
    assert_eq!(cols, aws);
    assert!(report.get("enrichment").is_none(), "no tables, no record of them");
    assert_eq!(columns_of(&read_table(&lake)), aws);
}

#[test]
fn bad_tables_are_refused_before_any_work_naming_the_file_and_the_entry() {
    let dir = tempfile::tempdir().unwrap();
    let input = records(dir.path());
    let lake = dir.path().join("lake");
    let mut bad = ip_ranges();
    bad["prefixes"][1]["ip_prefix"] = json!("52.216.0.1/15");
    let ranges = dir.path().join("bad-ranges.json");
    fs::write(&ranges, bad.to_string()).unwrap();
    let not_mmdb = dir.path().join("geo.mmdb");
    fs::write(&not_mmdb, b"this is not a database").unwrap();
    let empty = dir.path().join("empty-inventory");
    fs::create_dir_all(&empty).unwrap();
    let run = |spec: String| {
        let (_, err) =
            flowlake_code(&["convert", input.to_str().unwrap(), "-o", lake.to_str().unwrap(), "--enrich", &spec], 2);
        err
    };
    let e = run(format!("aws-ip-ranges={}", ranges.display()));
    assert!(
        e.contains(&format!(
            "{} is not AWS's ip-ranges.json as AWS publishes it: entry 2 of prefixes (`52.216.0.1/15`, AMAZON)",
            ranges.display()
        )),
        "{e}"
    );
    let e = run(format!("geoip={}", not_mmdb.display()));
    assert!(e.contains(&format!("{} is not a MaxMind DB (.mmdb) flowlake can read", not_mmdb.display())), "{e}");
    assert!(e.contains("download the database again, or give another"), "{e}");
    let e = run(format!("interfaces={}", empty.display()));
    assert!(e.contains("no .json files there"), "{e}");
    let e = run("countries=x.mmdb".into());
    assert!(e.contains("expected KIND=FILE, where KIND is aws-ip-ranges, interfaces or geoip"), "{e}");
    let twice = format!("aws-ip-ranges={}", dir.path().join("ip-ranges.json").display());
    fs::write(dir.path().join("ip-ranges.json"), ip_ranges().to_string()).unwrap();
    let (_, e) = flowlake_code(
        &["convert", input.to_str().unwrap(), "-o", lake.to_str().unwrap(), "--enrich", &twice, "--enrich", &twice],
        2,
    );
    assert!(e.contains("given twice"), "{e}");
    // Nothing was started: no table, no log.
    assert!(!lake.join("_flowlake/log").exists());
}

/// The real CC0 country database of ip-location-db (installed by scripts/test.sh from the
/// npm registry): flowlake's answers for every public address of a sample equal MaxMind's
/// own reader's.
#[test]
fn a_real_country_database_agrees_with_maxminds_reader() {
    let db = std::env::var("FLOWLAKE_GEO_DB").expect(
        "FLOWLAKE_GEO_DB names the real country database (scripts/test.sh downloads it): run the suite with scripts/test.sh",
    );
    let dir = tempfile::tempdir().unwrap();
    let sample = dir.path().join("sample");
    generate_sample(&sample, 20_000, 1, 4);
    let lake = dir.path().join("lake");
    flowlake_code(
        &["convert", sample.to_str().unwrap(), "-o", lake.to_str().unwrap(), "--enrich", &format!("geoip={db}")],
        0,
    );
    let rows = independent_rows(&lake, &["srcaddr", "src_country", "dstaddr", "dst_country"]);
    // A database of countries only: every row's ASN and network are null, the columns there.
    let networks = independent_rows(&lake, &["src_asn", "src_as_org", "dst_asn", "dst_as_org"]);
    assert_eq!(networks.len(), rows.len());
    assert!(networks.iter().all(|r| r == "- - - -"), "{:?}", networks.iter().find(|r| *r != "- - - -"));
    let mut pairs: Vec<(String, String)> = Vec::new();
    for r in &rows {
        let t: Vec<&str> = r.split(' ').collect();
        pairs.push((t[0].into(), t[1].into()));
        pairs.push((t[2].into(), t[3].into()));
    }
    pairs.sort();
    pairs.dedup();
    let addrs: Vec<&str> = pairs.iter().map(|(a, _)| a.as_str()).filter(|a| *a != "-").collect();
    let list = dir.path().join("addresses.txt");
    fs::write(&list, addrs.join("\n")).unwrap();
    let code = format!(
        r#"
import ipaddress, json, maxminddb
r = maxminddb.open_database({db:?})
# What flowlake calls private (RFC 1918, RFC 4193) is never looked up.
private = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")]
out = {{}}
for a in open({list:?}).read().split():
    ip = ipaddress.ip_address(a)
    rec = None if any(ip.version == n.version and ip in n for n in private) else r.get(a)
    out[a] = rec["country_code"].upper() if rec and rec.get("country_code") else "-"
print(json.dumps(out))
"#,
        list = list.display().to_string()
    );
    let theirs: std::collections::BTreeMap<String, String> = serde_json::from_str(&py(&["-c", &code])).unwrap();
    let mut known = 0;
    for (a, ours) in pairs.iter().filter(|(a, _)| a != "-") {
        assert_eq!(ours, &theirs[a], "{a}");
        known += usize::from(ours != "-");
    }
    // The sample's public peers are mostly in the database; its private ones never asked.
    assert!(known > 1000, "{known} addresses with a country");
}

/// Converts the records of [`records`] with all three tables.
fn enriched_lake(dir: &Path) -> PathBuf {
    let ranges = dir.join("ip-ranges.json");
    fs::write(&ranges, serde_json::to_vec_pretty(&ip_ranges()).unwrap()).unwrap();
    let (inv, geo, input) = (interfaces(dir), geo_db(dir), records(dir));
    let lake = dir.join("lake");
    let flag = |k: &str, p: &Path| format!("{k}={}", p.display());
    let (a, b, c) = (flag("aws-ip-ranges", &ranges), flag("interfaces", &inv), flag("geoip", &geo));
    let args = ["convert", input.to_str().unwrap(), "-o", lake.to_str().unwrap(), "-q"];
    let mut args: Vec<&str> = args.to_vec();
    args.extend(["--enrich", &a, "--enrich", &b, "--enrich", &c]);
    flowlake_code(&args, 0);
    lake
}

/// A question's answer as `key addresses-or-flows` lines, sorted.
fn answer(args: &[&str], key: &str, count: &str) -> Vec<String> {
    let (out, _) = flowlake_code(&[args, &["--format", "json", "-q"]].concat(), 0);
    let mut rows: Vec<String> = out
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            let k = match &v[key] {
                Value::Null => "-".to_string(),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            format!("{k} {}", v[count])
        })
        .collect();
    rows.sort();
    rows
}

#[test]
fn the_questions_group_by_who_is_behind_the_addresses() {
    let dir = tempfile::tempdir().unwrap();
    let lake = enriched_lake(dir.path());
    let l = lake.to_str().unwrap();
    let sources = |k: &str, col: &str| answer(&["sources", l, "--group-by", k], col, "addresses");
    assert_eq!(sources("service", "src_aws_service"), ["- 7", "EC2 1"]);
    assert_eq!(sources("owner", "src_owner"), ["- 4", "i-0aaa 3", "net/edge/50dc6c495c0c9188 1"]);
    assert_eq!(sources("country", "src_country"), ["- 5", "DE 1", "GB 1", "SE 1"]);
    assert_eq!(sources("asn", "src_asn"), ["- 7", "20712 1"]);
    // Outside the VPCs' 10.0.0.0/8: the owners of the public addresses only.
    let outside = answer(&["sources", l, "--outside", "10.0.0.0/8", "--group-by", "owner"], "src_owner", "addresses");
    assert_eq!(outside, ["- 4", "i-0aaa 2"]);
    let top = answer(&["top", l, "--group", "dstaddr", "--group-by", "owner", "--by", "flows"], "dst_owner", "flows");
    assert_eq!(top, ["- 6", "i-0aaa 1", "nat-0abc123 1"]);
    let top =
        answer(&["top", l, "--group", "dstaddr", "--group-by", "service", "--by", "flows"], "dst_aws_service", "flows");
    assert_eq!(top, ["- 3", "AMAZON 2", "EC2 2", "S3 1"]);
    // Without grouping, the sources and the records show what the table knows of each address.
    let by_addr = answer(&["sources", l], "srcaddr", "src_owner");
    assert!(by_addr.contains(&"54.1.2.3 \"i-0aaa\"".to_string()), "{by_addr:?}");
    let (found, _) = flowlake_code(&["find", l, "--ip", "81.2.69.160", "--format", "json", "-q"], 0);
    let found: Value = serde_json::from_str(found.trim()).unwrap();
    assert_eq!((found["src_country"].as_str(), found["dst_owner"].as_str()), (Some("GB"), Some("nat-0abc123")));
    // A key the table was not enriched with, or one that names no address, is a usage error.
    let plain = dir.path().join("plain");
    flowlake_code(&["convert", dir.path().join("in").to_str().unwrap(), "-o", plain.to_str().unwrap(), "-q"], 0);
    let (_, e) = flowlake_code(&["sources", plain.to_str().unwrap(), "--group-by", "asn"], 2);
    assert!(e.contains("the table has no `src_asn` column: convert it with --enrich geoip=FILE to add it"), "{e}");
    let (_, e) = flowlake_code(&["top", l, "--group", "port", "--group-by", "asn"], 2);
    assert!(e.contains("use it with --group srcaddr, dstaddr or pair"), "{e}");
}

/// Enrichment columns were first written as plain strings (commit 83ced00), then as
/// dictionary ids: a table holding both is queried as one table, and compaction
/// rewrites the older files in the table's type.
#[test]
fn a_table_with_enrichment_columns_in_two_arrow_types_reads_and_compacts_as_one() {
    let dir = tempfile::tempdir().unwrap();
    let lake = enriched_lake(dir.path());
    let l = lake.to_str().unwrap();
    // A second run's file, rewritten with plain string columns (as 83ced00 wrote them) and committed.
    let second = dir.path().join("in2");
    fs::create_dir_all(&second).unwrap();
    fs::write(second.join("more.log"), fs::read_to_string(dir.path().join("in/flows.log")).unwrap()).unwrap();
    let ranges = dir.path().join("ip-ranges.json");
    flowlake_code(
        &[
            "convert",
            second.to_str().unwrap(),
            "-o",
            l,
            "-q",
            "--enrich",
            &format!("aws-ip-ranges={}", ranges.display()),
            "--allow-unenriched",
        ],
        0,
    );
    let code = r#"
import glob, sys, pyarrow as pa, pyarrow.parquet as pq
f = max(glob.glob(sys.argv[1] + "/date=*/*.parquet"), key=lambda p: __import__("os").path.getmtime(p))
t = pq.read_table(f, partitioning=None)
cols = [c.cast(pa.string()) if pa.types.is_dictionary(c.type) else c for c in t.columns]
pq.write_table(pa.table(cols, names=t.column_names), f, compression="zstd")
print(t.schema.field("src_aws_service").type)
"#;
    assert_eq!(py(&["-c", code, l]).trim(), "dictionary<values=string, indices=int32, ordered=0>");
    let count = |sql: &str| -> String {
        let (out, _) = flowlake_code(&["query", l, sql, "--format", "csv", "-q"], 0);
        out.lines().nth(1).unwrap().to_string()
    };
    let sql = "SELECT count(*), count(src_aws_service), count(dst_aws_service), count(src_owner) FROM flows";
    // 9 rows with every table, 9 with the AWS ranges only.
    assert_eq!(count(sql), "18,2,10,4");
    flowlake_code(&["compact", l], 0);
    assert_eq!(count(sql), "18,2,10,4");
    let types = py(&[
        "-c",
        "import glob, sys, pyarrow.parquet as pq\nprint(sorted({str(pq.read_schema(f).field('dst_aws_service').type) for f in glob.glob(sys.argv[1] + '/date=*/*.parquet')}))",
        l,
    ]);
    assert_eq!(types.trim(), "['dictionary<values=string, indices=int32, ordered=0>']");
    flowlake_code(&["verify", l], 0);
}

/// `--enrich` on the questions joins the tables at query time: a table converted
/// without them answers as the table converted with them.
#[test]
fn the_questions_join_the_tables_at_query_time_as_a_conversion_would() {
    let dir = tempfile::tempdir().unwrap();
    let enriched = enriched_lake(dir.path());
    let plain = dir.path().join("plain");
    flowlake_code(&["convert", dir.path().join("in").to_str().unwrap(), "-o", plain.to_str().unwrap(), "-q"], 0);
    let flag = |k: &str, f: &str| format!("{k}={}", dir.path().join(f).display());
    let (a, b, c) =
        (flag("aws-ip-ranges", "ip-ranges.json"), flag("interfaces", "inventory"), flag("geoip", "geo.mmdb"));
    let joined = |args: &[&str]| -> Vec<String> {
        let mut all = args.to_vec();
        all.extend(["--enrich", &a, "--enrich", &b, "--enrich", &c, "--format", "csv", "-q"]);
        let (out, _) = flowlake_code(&all, 0);
        out.lines().map(str::to_string).collect()
    };
    let stored = |args: &[&str]| -> Vec<String> {
        let (out, _) = flowlake_code(&[args, &["--format", "csv", "-q"]].concat(), 0);
        out.lines().map(str::to_string).collect()
    };
    let (p, e) = (plain.to_str().unwrap(), enriched.to_str().unwrap());
    for q in [
        vec!["sources", "--group-by", "owner"],
        vec!["sources", "--outside", "10.0.0.0/8"],
        vec!["top", "--group", "pair", "--group-by", "service"],
        vec!["find", "--cidr", "0.0.0.0/0"],
    ] {
        let on = |lake: &str| -> Vec<String> {
            [&q[..1], &[lake], &q[1..]].concat().iter().map(|s| s.to_string()).collect()
        };
        let (pa, ea) = (on(p), on(e));
        let pa: Vec<&str> = pa.iter().map(String::as_str).collect();
        let ea: Vec<&str> = ea.iter().map(String::as_str).collect();
        assert_eq!(joined(&pa), stored(&ea), "{q:?}");
    }
    let sql = "SELECT count(src_aws_service), count(dst_owner), count(src_country), sum(src_asn), count(eni_owner) FROM flows";
    assert_eq!(joined(&["query", p, sql]), stored(&["query", e, sql]));
    // Columns the files have are read from them, not computed again.
    let (out, _) = flowlake_code(&["query", e, "SELECT count(*) FROM flows", "--enrich", &a, "--show-sql", "-q"], 0);
    assert!(out.contains('9'), "{out}");
}

/// A run or a repair that leaves out lookup tables the table's rows were enriched with is
/// refused, naming the flags; given them again (or told to go without) it goes ahead.
#[test]
fn an_enriched_table_refuses_a_run_or_repair_without_its_tables() {
    let dir = tempfile::tempdir().unwrap();
    let lake = enriched_lake(dir.path());
    let (l, input) = (lake.to_str().unwrap(), dir.path().join("in"));
    let before = independent_rows(&lake, COLUMNS);
    let flag = |k: &str, f: &str| format!("{k}={}", dir.path().join(f).display());
    let (ranges, inv, geo) =
        (flag("aws-ip-ranges", "ip-ranges.json"), flag("interfaces", "inventory"), flag("geoip", "geo.mmdb"));
    assert!(dir.path().join("geo.mmdb").exists(), "the country database geo_db writes");
    let more = "5 111122223333 eni-0a1 10.0.0.6 52.216.8.9 443 49152 6 1 40 1690848000 1690848060 ACCEPT OK vpc-a 10.0.0.6 52.216.8.9";
    fs::write(input.join("more.log"), format!("{HEADER}\n{more}\n")).unwrap();
    let commits = || {
        fs::read_dir(lake.join("_flowlake/log"))
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "json"))
            .count()
    };
    assert_eq!(commits(), 1);

    // Without the tables, or with only one: refused before any work, naming what is missing.
    let (_, err) = flowlake_code(&["convert", input.to_str().unwrap(), "-o", l, "-q"], 2);
    let inv_first = dir.path().join("inventory/111122223333.json");
    for want in [format!("--enrich {ranges}"), format!("--enrich geoip={}", dir.path().join("geo.mmdb").display())] {
        assert!(err.contains(&want), "{want} in: {err}");
    }
    assert!(err.contains(&format!("--enrich interfaces={} and 1 more", inv_first.display())), "{err}");
    assert!(err.contains("--allow-unenriched"), "{err}");
    let (_, err) = flowlake_code(&["convert", input.to_str().unwrap(), "-o", l, "-q", "--enrich", &ranges], 2);
    assert!(!err.contains("aws-ip-ranges=") && err.contains("geoip=") && err.contains("interfaces="), "{err}");
    assert_eq!(commits(), 1, "nothing committed");
    let staged = lake.join("_flowlake/staging");
    let left = if staged.exists() { fs::read_dir(&staged).unwrap().count() } else { 0 };
    assert_eq!(left, 0, "a refused run leaves no staging folder");

    // A repair that rebuilds a partition needs them too, and then gives the same rows.
    let files = parquet_files(&lake);
    fs::remove_file(&files[0].1).unwrap();
    let (_, err) = flowlake_code(&["verify", l, "--repair"], 2);
    assert!(err.contains("geoip=") && err.contains("--allow-unenriched"), "{err}");
    flowlake_code(&["verify", l, "--repair", "--enrich", &ranges, "--enrich", &inv, "--enrich", &geo], 0);
    assert_eq!(independent_rows(&lake, COLUMNS), before, "the rebuilt rows enriched as before");

    // Told to go without: the new row has the columns empty; given them, it has the answers.
    let two = ["convert", input.to_str().unwrap(), "-o", l, "-q"];
    flowlake_code(&[&two[..], &["--allow-unenriched"]].concat(), 0);
    let rows = independent_rows(&lake, &["srcaddr", "dstaddr", "packets", "dst_aws_service", "src_owner"]);
    assert!(rows.contains(&"10.0.0.6 52.216.8.9 1 - -".to_string()), "{rows:?}");
    assert!(rows.contains(&"10.0.0.6 52.216.8.9 10 EC2 i-0aaa".to_string()), "{rows:?}");
}
