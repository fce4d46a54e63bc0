//! Lookup tables that match the sample (`flowlake generate --lookup-tables`), for the
//! enrichment: an `ip-ranges.json` shaped and sized as AWS's (about 10,000 prefixes, the
//! sample's AWS-looking peers among them) and a `describe-network-interfaces` output
//! with the sample's interfaces among a few thousand of other VPCs.

use serde_json::{Value, json};

use super::{ENIS, Eni, GenerateOptions, enis, id17, mix};
use crate::error::Result;
use crate::storage::{LocalStorage, Location, Storage};

/// IPv4 blocks in `ip-ranges.json` (AWS's file holds about 8,000 IPv4 and 2,000 IPv6).
const V4_BLOCKS: u64 = 8_000;
const V6_BLOCKS: u64 = 2_000;
/// Interfaces of the inventory (the sample's own and other VPCs').
const INTERFACES: u64 = 3_000;

const REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "eu-west-1",
    "eu-west-2",
    "eu-central-1",
    "eu-north-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "ap-south-1",
    "sa-east-1",
    "ca-central-1",
    "GLOBAL",
];
const SERVICES: &[&str] = &["EC2", "EC2", "EC2", "S3", "CLOUDFRONT", "DYNAMODB", "ROUTE53_HEALTHCHECKS", "API_GATEWAY"];
/// First octets of the sample's public peers that are AWS's in the real file.
const AWS_OCTETS: &[u64] = &[3, 13, 18, 34, 35, 44, 52, 54];

fn entry(prefix: String, v6: bool, service: &str, region: &str) -> Value {
    let key = if v6 { "ipv6_prefix" } else { "ip_prefix" };
    json!({key: prefix, "region": region, "service": service, "network_border_group": region})
}

/// `ip-ranges.json`: every block listed under `AMAZON`, and again under its service.
fn ip_ranges(seed: u64) -> Value {
    let (mut v4, mut v6) = (Vec::new(), Vec::new());
    for i in 0..V4_BLOCKS / 2 {
        let h = mix(seed ^ 0xA175, i);
        let len = 16 + (h >> 8) % 9;
        let a = AWS_OCTETS[(h % AWS_OCTETS.len() as u64) as usize];
        let addr = (a << 24 | ((h >> 16) & 0xff_ffff)) & !((1u64 << (32 - len)) - 1);
        let block = format!("{}.{}.{}.{}/{len}", addr >> 24, (addr >> 16) & 255, (addr >> 8) & 255, addr & 255);
        let region = REGIONS[((h >> 40) % REGIONS.len() as u64) as usize];
        v4.push(entry(block.clone(), false, "AMAZON", region));
        v4.push(entry(block, false, SERVICES[((h >> 48) % SERVICES.len() as u64) as usize], region));
    }
    // The sample's own IPv6 range (us-east-1's EC2 block), then others.
    v6.push(entry("2600:1f18::/33".into(), true, "EC2", "us-east-1"));
    v6.push(entry("2600:1f18::/33".into(), true, "AMAZON", "us-east-1"));
    for i in 1..V6_BLOCKS / 2 {
        let h = mix(seed ^ 0xA176, i);
        let block = format!("2600:{:x}:{:x}::/{}", 0x1f00 + (h % 0xff), (h >> 8) & 0xffff, 40 + (h >> 24) % 17);
        let block = block.parse::<crate::ip::Cidr>().map(|c| c.to_string()).unwrap_or(block);
        let region = REGIONS[((h >> 40) % REGIONS.len() as u64) as usize];
        v6.push(entry(block.clone(), true, "AMAZON", region));
        v6.push(entry(block, true, SERVICES[((h >> 48) % SERVICES.len() as u64) as usize], region));
    }
    json!({"syncToken": "1690848000", "createDate": "2023-08-01-00-00-00", "prefixes": v4, "ipv6_prefixes": v6})
}

/// One interface as `describe-network-interfaces` prints it.
fn interface(opts: &GenerateOptions, vpc: &str, e: &Eni, i: u64) -> Value {
    let (kind, description, requester) = match (&e.instance, i % 3) {
        (Some(_), _) => ("interface", format!("Primary network interface {i}"), Value::Null),
        (None, 0) => (
            "nat_gateway",
            format!("Interface for NAT Gateway nat-{}", id17(mix(opts.seed, 4000 + i))),
            json!("AROAEXAMPLE"),
        ),
        (None, 1) => (
            "lambda",
            format!("AWS Lambda VPC ENI-fn-{i}-1b2c3d4e-aaaa-bbbb-cccc-111122223333"),
            json!("AROALAMBDA:fn"),
        ),
        (None, _) => {
            ("vpc_endpoint", format!("VPC Endpoint Interface vpce-{}", id17(mix(opts.seed, 5000 + i))), json!("amazon"))
        }
    };
    let mut v = json!({
        "NetworkInterfaceId": e.id, "OwnerId": opts.account, "VpcId": vpc, "SubnetId": e.subnet,
        "AvailabilityZone": format!("{}a", opts.region), "InterfaceType": kind, "Description": description,
        "RequesterManaged": e.instance.is_none(), "Status": "in-use",
        "Groups": [{"GroupId": format!("sg-{}", id17(mix(opts.seed, 6000 + i % 40))), "GroupName": format!("group-{}", i % 40)}],
        "PrivateIpAddress": e.ip,
        "PrivateIpAddresses": [{"Primary": true, "PrivateIpAddress": e.ip}],
        "Ipv6Addresses": [{"Ipv6Address": e.ip6}],
    });
    if let Some(inst) = &e.instance {
        v["Attachment"] = json!({"InstanceId": inst, "InstanceOwnerId": opts.account, "DeviceIndex": 0});
    }
    if !requester.is_null() {
        v["RequesterId"] = requester;
    }
    v
}

/// Writes `ip-ranges.json` and `network-interfaces.json` into `dir`.
pub fn write_lookup_tables(opts: &GenerateOptions, dir: &Location) -> Result<()> {
    let vpc = format!("vpc-{}", id17(mix(opts.seed, 7)));
    let mut all: Vec<Value> =
        enis(opts.seed).iter().enumerate().map(|(i, e)| interface(opts, &vpc, e, i as u64)).collect();
    // Interfaces of other VPCs, some with the sample's private addresses (so that only the
    // record's own VPC tells them apart).
    let others = enis(opts.seed ^ 0x0711);
    for i in ENIS..INTERFACES {
        let e = &others[(i % ENIS) as usize];
        let other = Eni {
            id: format!("eni-{}", id17(mix(opts.seed ^ 0x0712, i))),
            ip: format!("10.{}.{}.{}", 1 + i / 1000, (i / 250) % 4, 4 + i % 250),
            ..e.clone()
        };
        all.push(interface(opts, &format!("vpc-{}", id17(mix(opts.seed, 8 + i / 500))), &other, i));
    }
    let st = LocalStorage;
    let pretty = |v: &Value| serde_json::to_vec_pretty(v).expect("JSON serializes");
    st.put(&dir.join("ip-ranges.json"), &pretty(&ip_ranges(opts.seed)))?;
    st.put(&dir.join("network-interfaces.json"), &pretty(&json!({"NetworkInterfaces": all})))?;
    Ok(())
}
