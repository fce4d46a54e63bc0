//! The account's own network interfaces, as `aws ec2 describe-network-interfaces`
//! prints them (`{"NetworkInterfaces": [...]}`; one file or many, of several accounts
//! and regions): what owns each address and each interface.
//!
//! An interface's addresses are its primary and secondary private IPv4 addresses, the
//! public address associated with each, its IPv6 addresses and the prefixes delegated to
//! it. Private addresses repeat across VPCs, so an address is looked up within a VPC
//! first (the VPC of the record's own interface); across VPCs only an address that one
//! interface alone holds is an answer.

use std::collections::HashMap;
use std::net::IpAddr;

use serde::Deserialize;

use super::prefixes::PrefixMap;
use crate::error::{Error, Result};
use crate::hash::FxHashMap;
use crate::ip::Cidr;

/// What the inventory says of one interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    /// `eni-…`.
    pub interface_id: String,
    /// The account that owns the interface.
    pub account_id: String,
    /// Its VPC and subnet.
    pub vpc_id: String,
    /// Its subnet.
    pub subnet_id: String,
    /// `interface`, `nat_gateway`, `network_load_balancer`, `lambda`, `vpc_endpoint`, …
    pub interface_type: String,
    /// Its description, as EC2 or the owning service wrote it.
    pub description: String,
    /// What it belongs to: the instance it is attached to, else what the owning service's
    /// description names (`nat-…`, `vpce-…`, `app/my-alb/…`, the Lambda function), else
    /// the requester that manages it.
    pub owner: String,
    /// Its security groups (`sg-…`), comma-separated.
    pub security_groups: String,
}

/// Interfaces by id and by address.
#[derive(Clone, Debug, Default)]
pub struct Interfaces {
    all: Vec<Interface>,
    by_id: HashMap<String, u32>,
    /// (VPC, address) → interface, for private addresses.
    by_vpc_address: FxHashMap<(u32, IpAddr), u32>,
    vpcs: FxHashMap<String, u32>,
    /// Address → the one interface that holds it across every VPC (public addresses,
    /// private ones no other interface holds, delegated prefixes): `Some` of it, or of
    /// none; `None` for an address several interfaces hold (only these find an interface
    /// by the record's VPC).
    any_vpc: PrefixMap<Option<Option<u32>>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct File {
    network_interfaces: Vec<Raw>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct Raw {
    network_interface_id: String,
    owner_id: String,
    vpc_id: String,
    subnet_id: String,
    interface_type: String,
    description: String,
    requester_id: String,
    requester_managed: bool,
    attachment: Option<Attachment>,
    groups: Vec<Group>,
    private_ip_addresses: Vec<PrivateIp>,
    private_ip_address: String,
    association: Option<Association>,
    ipv6_addresses: Vec<Ipv6>,
    ipv4_prefixes: Vec<Ipv4Prefix>,
    ipv6_prefixes: Vec<Ipv6Prefix>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct Attachment {
    instance_id: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct Group {
    group_id: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct PrivateIp {
    private_ip_address: String,
    association: Option<Association>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct Association {
    public_ip: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct Ipv6 {
    ipv6_address: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct Ipv4Prefix {
    ipv4_prefix: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct Ipv6Prefix {
    ipv6_prefix: String,
}

/// What the inventory's interfaces hold, gathered before the lookups are built.
#[derive(Default)]
struct Found {
    /// Address → every interface holding it, across VPCs.
    holders: HashMap<IpAddr, Vec<u32>>,
    /// Delegated prefixes and their interface.
    prefixes: Vec<(Cidr, Option<u32>)>,
}

impl Raw {
    /// The interface's private addresses (IPv4 and IPv6, sorted, once each) and public ones.
    fn addresses(&self) -> std::result::Result<(Vec<IpAddr>, Vec<IpAddr>), String> {
        let parse = |s: &str, what: &str| -> std::result::Result<IpAddr, String> {
            s.parse().map_err(|_| format!("its {what} `{}` is not an address", s.escape_debug()))
        };
        let (mut private, mut public) = (Vec::new(), Vec::new());
        if !self.private_ip_address.is_empty() {
            private.push(parse(&self.private_ip_address, "PrivateIpAddress")?);
        }
        for p in &self.private_ip_addresses {
            private.push(parse(&p.private_ip_address, "PrivateIpAddress")?);
            if let Some(a) = p.association.as_ref().filter(|a| !a.public_ip.is_empty()) {
                public.push(parse(&a.public_ip, "PublicIp")?);
            }
        }
        if let Some(a) = self.association.as_ref().filter(|a| !a.public_ip.is_empty()) {
            public.push(parse(&a.public_ip, "PublicIp")?);
        }
        for a in &self.ipv6_addresses {
            private.push(parse(&a.ipv6_address, "Ipv6Address")?);
        }
        private.sort();
        private.dedup();
        Ok((private, public))
    }
}

/// What a requester-managed interface belongs to, from the description its service
/// writes (`Interface for NAT Gateway nat-0abc`, `ELB app/web/50dc6c495c0c9188`,
/// `AWS Lambda VPC ENI-my-function-…`, `VPC Endpoint Interface vpce-0abc`).
fn owner_from_description(d: &str) -> Option<String> {
    if let Some(rest) = d.strip_prefix("ELB ") {
        return Some(rest.to_string());
    }
    if let Some(rest) = d.strip_prefix("AWS Lambda VPC ENI-") {
        // The function's name, then a UUID (five groups joined by `-`).
        let parts: Vec<&str> = rest.rsplitn(6, '-').collect();
        return (parts.len() == 6).then(|| format!("lambda:{}", parts[5]));
    }
    d.split(' ')
        .find(|w| ["nat-", "vpce-", "tgw-attach-", "eigw-"].iter().any(|p| w.starts_with(p)))
        .map(str::to_string)
}

impl Interfaces {
    /// Reads the inventory from `files`: (name, bytes) of each `describe-network-interfaces`
    /// output. An interface listed in several files (two runs of the command) is taken once.
    pub fn parse(files: &[(String, Vec<u8>)]) -> Result<Interfaces> {
        let mut inv = Interfaces::default();
        let mut found = Found::default();
        for (name, bytes) in files {
            let file: File = serde_json::from_slice(bytes).map_err(|e| {
                Error::Usage(format!(
                    "{name} is not the output of `aws ec2 describe-network-interfaces` (JSON with NetworkInterfaces): {e}"
                ))
            })?;
            for (i, raw) in file.network_interfaces.into_iter().enumerate() {
                inv.add(raw, &mut found).map_err(|what| Error::Usage(format!("{name}: interface {} {what}", i + 1)))?;
            }
        }
        // An address two interfaces hold (the same private address in two VPCs) names neither.
        let singles = found.holders.iter().map(|(&a, h)| (Cidr::host(a), (h.len() == 1).then(|| h[0])));
        let blocks: Vec<(Cidr, Option<u32>)> = found.prefixes.into_iter().chain(singles).collect();
        let one_holder = |kept: &mut Option<u32>, later: Option<u32>| {
            if *kept != later {
                *kept = None;
            }
        };
        let unique = PrefixMap::build(blocks.iter().copied(), one_holder);
        // Only these find an interface by the record's VPC: an address several interfaces
        // hold, or one whose holder anywhere is not its one holder (another interface's
        // delegated prefix of just that address). As whole-address blocks marked `None`
        // over the others, one search answers `index_in_any_vpc`.
        let several = found
            .holders
            .iter()
            .filter(|(a, h)| h.len() > 1 || unique.get(**a) != Some(&Some(h[0])))
            .map(|(&a, _)| (Cidr::host(a), None));
        let any = blocks.into_iter().map(|(c, v)| (c, Some(v))).chain(several);
        inv.any_vpc = PrefixMap::build(any, |kept, later| match (kept.as_mut(), later) {
            (Some(k), Some(l)) => one_holder(k, l),
            _ => *kept = None,
        });
        Ok(inv)
    }

    /// Takes in one interface of the inventory (again: nothing); why not, if it cannot be.
    fn add(&mut self, raw: Raw, found: &mut Found) -> std::result::Result<(), String> {
        let id = raw.network_interface_id.clone();
        let bad = |what: String| format!("({id}): {what}");
        if !id.starts_with("eni-") {
            return Err(bad("its NetworkInterfaceId is not an interface id (eni-…)".into()));
        }
        if self.by_id.contains_key(&id) {
            return Ok(());
        }
        let index = self.all.len() as u32;
        let vpc = {
            let n = self.vpcs.len() as u32;
            *self.vpcs.entry(raw.vpc_id.clone()).or_insert(n)
        };
        let (private, public) = raw.addresses().map_err(bad)?;
        for p in
            raw.ipv4_prefixes.iter().map(|p| &p.ipv4_prefix).chain(raw.ipv6_prefixes.iter().map(|p| &p.ipv6_prefix))
        {
            let block: Cidr = p.parse().map_err(|e| bad(format!("its delegated prefix: {e}")))?;
            found.prefixes.push((block, Some(index)));
        }
        for &a in &private {
            self.by_vpc_address.insert((vpc, a), index);
        }
        for a in private.into_iter().chain(public) {
            let h = found.holders.entry(a).or_default();
            if !h.contains(&index) {
                h.push(index);
            }
        }
        let owner = match raw.attachment.as_ref().filter(|a| !a.instance_id.is_empty()) {
            Some(a) => a.instance_id.clone(),
            None => owner_from_description(&raw.description)
                .or_else(|| (raw.requester_managed || !raw.requester_id.is_empty()).then(|| raw.requester_id.clone()))
                .unwrap_or_default(),
        };
        let groups: Vec<&str> = raw.groups.iter().map(|g| g.group_id.as_str()).collect();
        let security_groups = groups.join(",");
        self.by_id.insert(id.clone(), index);
        self.all.push(Interface {
            interface_id: id,
            account_id: raw.owner_id,
            vpc_id: raw.vpc_id,
            subnet_id: raw.subnet_id,
            interface_type: raw.interface_type,
            description: raw.description,
            owner,
            security_groups,
        });
        Ok(())
    }

    /// The interface with this id.
    pub fn by_id(&self, id: &str) -> Option<&Interface> {
        self.index_by_id(id).map(|i| self.entry(i))
    }

    /// The index (for [`entry`](Interfaces::entry)) of the interface with this id.
    #[inline]
    pub fn index_by_id(&self, id: &str) -> Option<u32> {
        self.by_id.get(id).copied()
    }

    /// The interface holding `addr`: within `vpc` (the VPC of the record's own interface)
    /// when given and it holds it there, else the one interface holding it anywhere.
    pub fn by_address(&self, addr: IpAddr, vpc: Option<&str>) -> Option<&Interface> {
        self.index_by_address(addr, vpc.and_then(|v| self.vpc_index(v))).map(|i| self.entry(i))
    }

    /// The number the inventory gives a VPC id (for [`index_by_address`](Interfaces::index_by_address)).
    #[inline]
    pub fn vpc_index(&self, vpc: &str) -> Option<u32> {
        self.vpcs.get(vpc).copied()
    }

    /// The VPC number of interface `i`.
    #[inline]
    pub fn vpc_of(&self, i: u32) -> Option<u32> {
        self.vpc_index(&self.all[i as usize].vpc_id)
    }

    /// As [`by_address`](Interfaces::by_address), by index, with the VPC as its number.
    #[inline]
    pub fn index_by_address(&self, addr: IpAddr, vpc: Option<u32>) -> Option<u32> {
        let in_vpc = vpc.and_then(|v| self.by_vpc_address.get(&(v, addr)));
        // (An address several interfaces hold has no one holder anywhere.)
        in_vpc.copied().or_else(|| self.any_vpc.get(addr).copied().flatten().flatten())
    }

    /// What [`index_by_address`](Interfaces::index_by_address) gives `addr` whatever the
    /// VPC: `Some` of it, or `None` when several interfaces hold `addr`, so that the
    /// record's VPC picks one. (An address one interface holds is in that interface's VPC
    /// only, and the one holder anywhere too; an address nobody holds is in no VPC.)
    #[inline]
    pub fn index_in_any_vpc(&self, addr: IpAddr) -> Option<Option<u32>> {
        self.any_vpc.get(addr).copied().unwrap_or(Some(None))
    }

    /// Interface `i`.
    pub fn entry(&self, i: u32) -> &Interface {
        &self.all[i as usize]
    }

    /// Every answer, in index order.
    pub fn entries(&self) -> &[Interface] {
        &self.all
    }

    /// Interfaces read.
    pub fn len(&self) -> usize {
        self.all.len()
    }

    /// True when the inventory holds no interface.
    pub fn is_empty(&self) -> bool {
        self.all.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Output of `aws ec2 describe-network-interfaces` (fields as the EC2 API names them).
    fn inventory() -> Vec<(String, Vec<u8>)> {
        let a = serde_json::json!({"NetworkInterfaces": [
            {"NetworkInterfaceId": "eni-0a1", "OwnerId": "111122223333", "VpcId": "vpc-a", "SubnetId": "subnet-a1",
             "InterfaceType": "interface", "Description": "web", "RequesterManaged": false,
             "Attachment": {"InstanceId": "i-0123456789abcdef0", "InstanceOwnerId": "111122223333"},
             "Groups": [{"GroupId": "sg-1", "GroupName": "web"}, {"GroupId": "sg-2", "GroupName": "ssh"}],
             "PrivateIpAddress": "10.0.0.5",
             "PrivateIpAddresses": [
                 {"Primary": true, "PrivateIpAddress": "10.0.0.5", "Association": {"PublicIp": "54.1.2.3", "IpOwnerId": "amazon"}},
                 {"Primary": false, "PrivateIpAddress": "10.0.0.6"}],
             "Association": {"PublicIp": "54.1.2.3"},
             "Ipv6Addresses": [{"Ipv6Address": "2600:1f18:1234:300::2b"}],
             "Ipv4Prefixes": [{"Ipv4Prefix": "10.0.1.16/28"}]},
            {"NetworkInterfaceId": "eni-0n1", "OwnerId": "111122223333", "VpcId": "vpc-a", "SubnetId": "subnet-a2",
             "InterfaceType": "nat_gateway", "Description": "Interface for NAT Gateway nat-0abc123",
             "RequesterId": "AROAEXAMPLE", "RequesterManaged": true, "Groups": [],
             "PrivateIpAddress": "10.0.2.9", "PrivateIpAddresses": [{"Primary": true, "PrivateIpAddress": "10.0.2.9"}]},
            {"NetworkInterfaceId": "eni-0l1", "OwnerId": "111122223333", "VpcId": "vpc-a", "SubnetId": "subnet-a2",
             "InterfaceType": "lambda", "Description": "AWS Lambda VPC ENI-my-func-1b2c3d4e-aaaa-bbbb-cccc-111122223333",
             "RequesterId": "AROALAMBDA:abc", "RequesterManaged": true,
             "PrivateIpAddresses": [{"Primary": true, "PrivateIpAddress": "10.0.2.10"}]}
        ]});
        let b = serde_json::json!({"NetworkInterfaces": [
            {"NetworkInterfaceId": "eni-0b1", "OwnerId": "444455556666", "VpcId": "vpc-b", "SubnetId": "subnet-b1",
             "InterfaceType": "network_load_balancer", "Description": "ELB net/edge/50dc6c495c0c9188",
             "RequesterId": "amazon-elb", "RequesterManaged": true,
             "PrivateIpAddresses": [{"Primary": true, "PrivateIpAddress": "10.0.0.5"}]},
            // Listed again (a second run of the command): taken once.
            {"NetworkInterfaceId": "eni-0n1", "VpcId": "vpc-a", "PrivateIpAddresses": []}
        ]});
        vec![("a.json".into(), a.to_string().into_bytes()), ("b.json".into(), b.to_string().into_bytes())]
    }

    fn owner(inv: &Interfaces, addr: &str, vpc: Option<&str>) -> Option<String> {
        inv.by_address(addr.parse().unwrap(), vpc).map(|i| format!("{} {}", i.interface_id, i.owner))
    }

    #[test]
    fn addresses_and_interfaces_map_to_what_owns_them() {
        let inv = Interfaces::parse(&inventory()).unwrap();
        assert_eq!(inv.len(), 4);
        let web = inv.by_id("eni-0a1").unwrap();
        assert_eq!(
            (web.owner.as_str(), web.vpc_id.as_str(), web.security_groups.as_str(), web.account_id.as_str()),
            ("i-0123456789abcdef0", "vpc-a", "sg-1,sg-2", "111122223333")
        );
        let s = |x: &str| Some(x.to_string());
        for (addr, vpc, want) in [
            ("10.0.0.6", None, s("eni-0a1 i-0123456789abcdef0")), // secondary
            ("54.1.2.3", None, s("eni-0a1 i-0123456789abcdef0")), // public
            ("2600:1f18:1234:300::2b", None, s("eni-0a1 i-0123456789abcdef0")),
            ("10.0.1.20", None, s("eni-0a1 i-0123456789abcdef0")), // in a delegated prefix
            ("10.0.2.9", None, s("eni-0n1 nat-0abc123")),
            ("10.0.2.10", None, s("eni-0l1 lambda:my-func")),
            // The same private address in two VPCs: the record's VPC decides; without it, nobody.
            ("10.0.0.5", Some("vpc-a"), s("eni-0a1 i-0123456789abcdef0")),
            ("10.0.0.5", Some("vpc-b"), s("eni-0b1 net/edge/50dc6c495c0c9188")),
            ("10.0.0.5", None, None),
            ("10.0.0.5", Some("vpc-c"), None),
            // Another VPC's record reaching a peer's unique address still names it.
            ("10.0.2.9", Some("vpc-b"), s("eni-0n1 nat-0abc123")),
            ("10.9.9.9", Some("vpc-a"), None),
        ] {
            assert_eq!(owner(&inv, addr, vpc), want, "{addr} in {vpc:?}");
        }
    }

    /// The answer taken once per distinct address is the one every record's VPC gets; only
    /// an address several interfaces hold is left to the VPC.
    #[test]
    fn an_address_one_interface_holds_finds_it_whatever_the_vpc() {
        let inv = Interfaces::parse(&inventory()).unwrap();
        let vpcs = [None, Some("vpc-a"), Some("vpc-b"), Some("vpc-c")].map(|v| v.and_then(|v| inv.vpc_index(v)));
        let mut fixed = 0;
        for addr in [
            "10.0.0.6",
            "54.1.2.3",
            "2600:1f18:1234:300::2b",
            "10.0.1.20",
            "10.0.2.9",
            "10.0.2.10",
            "10.9.9.9",
            "10.0.0.5",
        ] {
            let a: IpAddr = addr.parse().unwrap();
            match inv.index_in_any_vpc(a) {
                Some(answer) => {
                    fixed += 1;
                    for vpc in vpcs {
                        assert_eq!(inv.index_by_address(a, vpc), answer, "{addr} in {vpc:?}");
                    }
                }
                None => assert_eq!(addr, "10.0.0.5", "only the address two interfaces hold depends on the VPC"),
            }
        }
        assert_eq!(fixed, 7);
        // One interface's private address is another's delegated prefix of just that
        // address: the holder anywhere is nobody, but in the first one's VPC it is that one.
        let json = serde_json::json!({"NetworkInterfaces": [
            {"NetworkInterfaceId": "eni-x", "VpcId": "vpc-a", "PrivateIpAddresses": [{"PrivateIpAddress": "10.5.0.5"}]},
            {"NetworkInterfaceId": "eni-y", "VpcId": "vpc-b", "Ipv4Prefixes": [{"Ipv4Prefix": "10.5.0.5/32"}]}]});
        let inv = Interfaces::parse(&[("x.json".into(), json.to_string().into_bytes())]).unwrap();
        let a: IpAddr = "10.5.0.5".parse().unwrap();
        assert_eq!(inv.index_in_any_vpc(a), None, "left to the record's VPC");
        assert_eq!(inv.index_by_address(a, inv.vpc_index("vpc-a")), inv.index_by_id("eni-x"));
        for vpc in [None, inv.vpc_index("vpc-b")] {
            assert_eq!(inv.index_by_address(a, vpc), None);
        }
    }

    #[test]
    fn malformed_inventories_are_named() {
        let err =
            |json: &str| Interfaces::parse(&[("inv.json".into(), json.as_bytes().to_vec())]).unwrap_err().to_string();
        let e = err(r#"{"Reservations": []}"#);
        assert!(e.starts_with("inv.json is not the output of `aws ec2 describe-network-interfaces`"), "{e}");
        let e = err(r#"{"NetworkInterfaces": [{"NetworkInterfaceId": "eni-1", "PrivateIpAddress": "10.0.0.300"}]}"#);
        assert!(
            e.contains("inv.json: interface 1 (eni-1): its PrivateIpAddress `10.0.0.300` is not an address"),
            "{e}"
        );
        let e = err(r#"{"NetworkInterfaces": [{"NetworkInterfaceId": "i-1"}]}"#);
        assert!(e.contains("not an interface id"), "{e}");
        let e = err(
            r#"{"NetworkInterfaces": [{"NetworkInterfaceId": "eni-1", "Ipv4Prefixes": [{"Ipv4Prefix": "10.0.0.0/40"}]}]}"#,
        );
        assert!(e.contains("delegated prefix"), "{e}");
    }
}
