//! SQL functions over addresses, registered in every query session:
//!
//! - `cidr_contains(cidr, addr)`: true when `addr` is in the block `cidr`;
//! - `is_private(addr)`: RFC 1918 (IPv4) or RFC 4193 (IPv6) address;
//! - `cidr_of(addr, prefix)` or `cidr_of(addr, prefix_v4, prefix_v6)`: the
//!   block of that prefix length around `addr`, as text (`10.192.0.0/16`).
//!
//! Addresses are compared as numbers. A null, `-` or malformed address gives
//! NULL (never a match, never an error); a malformed CIDR or prefix is an error.

use std::net::IpAddr;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanBuilder, Int64Array, LargeStringArray, StringArray, StringBuilder, StringViewArray,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DataFusionError, Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};

use crate::ip::{self, Cidr};

/// The three address functions, ready to register.
pub fn all() -> Vec<ScalarUDF> {
    vec![
        ScalarUDF::from(CidrContains { signature: Signature::any(2, Volatility::Immutable) }),
        ScalarUDF::from(IsPrivate { signature: Signature::any(1, Volatility::Immutable) }),
        ScalarUDF::from(CidrOf { signature: Signature::variadic_any(Volatility::Immutable) }),
    ]
}

/// A string argument, a column or one value for every row.
enum Strs<'a> {
    Scalar(Option<&'a str>),
    Utf8(&'a StringArray),
    Large(&'a LargeStringArray),
    View(&'a StringViewArray),
}

impl<'a> Strs<'a> {
    fn new(fun: &str, v: &'a ColumnarValue) -> Result<Strs<'a>> {
        Ok(match v {
            ColumnarValue::Scalar(ScalarValue::Utf8(s) | ScalarValue::LargeUtf8(s) | ScalarValue::Utf8View(s)) => {
                Strs::Scalar(s.as_deref())
            }
            ColumnarValue::Scalar(ScalarValue::Null) => Strs::Scalar(None),
            ColumnarValue::Array(a) => match a.data_type() {
                DataType::Utf8 => Strs::Utf8(a.as_string::<i32>()),
                DataType::LargeUtf8 => Strs::Large(a.as_string::<i64>()),
                DataType::Utf8View => Strs::View(a.as_string_view()),
                t => return exec_err!("{fun}: expected a string argument, got {t}"),
            },
            ColumnarValue::Scalar(s) => return exec_err!("{fun}: expected a string argument, got {}", s.data_type()),
        })
    }

    #[inline]
    fn get(&self, i: usize) -> Option<&'a str> {
        match self {
            Strs::Scalar(s) => *s,
            Strs::Utf8(a) => a.is_valid(i).then(|| a.value(i)),
            Strs::Large(a) => a.is_valid(i).then(|| a.value(i)),
            Strs::View(a) => a.is_valid(i).then(|| a.value(i)),
        }
    }
}

/// An integer argument, a column or one value for every row.
enum Ints {
    Scalar(Option<i64>),
    Array(Int64Array),
}

impl Ints {
    fn new(fun: &str, v: &ColumnarValue) -> Result<Ints> {
        let bad = |t: &DataType| exec_err!("{fun}: expected an integer prefix length, got {t}");
        match v {
            ColumnarValue::Scalar(s) => {
                if !s.data_type().is_integer() && !s.is_null() {
                    return bad(&s.data_type());
                }
                match s.cast_to(&DataType::Int64)? {
                    ScalarValue::Int64(v) => Ok(Ints::Scalar(v)),
                    _ => Ok(Ints::Scalar(None)),
                }
            }
            ColumnarValue::Array(a) => {
                if !a.data_type().is_integer() {
                    return bad(a.data_type());
                }
                Ok(Ints::Array(cast(a, &DataType::Int64)?.as_primitive().clone()))
            }
        }
    }

    fn get(&self, i: usize) -> Option<i64> {
        match self {
            Ints::Scalar(v) => *v,
            Ints::Array(a) => a.is_valid(i).then(|| a.value(i)),
        }
    }
}

/// Rows to compute: one when every argument is a scalar (the answer is then a scalar too).
fn rows(args: &ScalarFunctionArgs) -> (usize, bool) {
    let scalar = args.args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
    (if scalar { 1 } else { args.number_rows }, scalar)
}

fn finish(out: ArrayRef, scalar: bool) -> Result<ColumnarValue> {
    if scalar {
        Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?))
    } else {
        Ok(ColumnarValue::Array(out))
    }
}

fn exec(msg: impl std::fmt::Display) -> DataFusionError {
    DataFusionError::Execution(msg.to_string())
}

/// Parses CIDR arguments, remembering the last one: the block is nearly always a constant.
#[derive(Default)]
struct CidrCache<'a> {
    last: Option<(&'a str, Cidr)>,
}

impl<'a> CidrCache<'a> {
    fn get(&mut self, s: &'a str) -> Result<Cidr> {
        if let Some((t, c)) = self.last
            && t == s
        {
            return Ok(c);
        }
        let c: Cidr = s.parse().map_err(exec)?;
        self.last = Some((s, c));
        Ok(c)
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct CidrContains {
    signature: Signature,
}

impl ScalarUDFImpl for CidrContains {
    fn name(&self) -> &str {
        "cidr_contains"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        for t in arg_types {
            if !matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null) {
                return plan_err!("cidr_contains(cidr, addr) takes two strings, got {t}");
            }
        }
        Ok(DataType::Boolean)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let cidrs = Strs::new("cidr_contains", &args.args[0])?;
        let addrs = Strs::new("cidr_contains", &args.args[1])?;
        let (n, scalar) = rows(&args);
        let mut cache = CidrCache::default();
        let mut out = BooleanBuilder::with_capacity(n);
        for i in 0..n {
            match (cidrs.get(i), addrs.get(i)) {
                (Some(c), Some(a)) => match ip::parse_field(a) {
                    Some(addr) => out.append_value(cache.get(c)?.contains(addr)),
                    None => {
                        cache.get(c)?;
                        out.append_null()
                    }
                },
                _ => out.append_null(),
            }
        }
        finish(Arc::new(out.finish()), scalar)
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct IsPrivate {
    signature: Signature,
}

impl ScalarUDFImpl for IsPrivate {
    fn name(&self) -> &str {
        "is_private"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match &arg_types[0] {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null => Ok(DataType::Boolean),
            t => plan_err!("is_private(addr) takes a string, got {t}"),
        }
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let addrs = Strs::new("is_private", &args.args[0])?;
        let (n, scalar) = rows(&args);
        let mut out = BooleanBuilder::with_capacity(n);
        for i in 0..n {
            match addrs.get(i).and_then(ip::parse_field) {
                Some(a) => out.append_value(ip::is_private(a)),
                None => out.append_null(),
            }
        }
        finish(Arc::new(out.finish()), scalar)
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct CidrOf {
    signature: Signature,
}

impl ScalarUDFImpl for CidrOf {
    fn name(&self) -> &str {
        "cidr_of"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        if !(2..=3).contains(&arg_types.len()) {
            return plan_err!("cidr_of takes (addr, prefix) or (addr, ipv4_prefix, ipv6_prefix)");
        }
        if !matches!(arg_types[0], DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null) {
            return plan_err!("cidr_of: the address must be a string, got {}", arg_types[0]);
        }
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let addrs = Strs::new("cidr_of", &args.args[0])?;
        let p4 = Ints::new("cidr_of", &args.args[1])?;
        let p6 = match args.args.get(2) {
            Some(v) => Some(Ints::new("cidr_of", v)?),
            None => None,
        };
        let (n, scalar) = rows(&args);
        let mut out = StringBuilder::with_capacity(n, n * 16);
        let mut text = String::new();
        for i in 0..n {
            let Some(addr) = addrs.get(i).and_then(ip::parse_field) else {
                out.append_null();
                continue;
            };
            let prefix = match (&p6, addr) {
                (Some(p6), IpAddr::V6(_)) => p6.get(i),
                _ => p4.get(i),
            };
            let Some(prefix) = prefix else {
                out.append_null();
                continue;
            };
            let prefix = u8::try_from(prefix).map_err(|_| exec(format!("cidr_of: invalid prefix length {prefix}")))?;
            let block = Cidr::new(addr, prefix).map_err(|e| {
                exec(format!(
                    "cidr_of({addr}, {prefix}): {e}; use cidr_of(addr, ipv4_prefix, ipv6_prefix) for mixed data"
                ))
            })?;
            use std::fmt::Write;
            text.clear();
            write!(text, "{block}").expect("write to String");
            out.append_value(&text);
        }
        finish(Arc::new(out.finish()), scalar)
    }
}
