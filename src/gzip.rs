//! gzip input, member by member, so that no byte becomes a row before it is verified.
//!
//! A gzip file is one or more members, each a header, deflate data and a trailer
//! holding the CRC-32 and length of its decompressed bytes. [`MemberReader`] inflates
//! them one after the other and checks every trailer. A member whose trailer does not
//! match, or whose deflate data is invalid, is recorded as a [`BadMember`] with the
//! range of decompressed bytes it produced (those bytes are still returned: the lines
//! in them go to the rejects file, where they stay recoverable); reading then goes on
//! with the next member, found again by its magic bytes after invalid data. An input
//! that ends inside a member (a truncated file) returns every byte that could be
//! inflated before the cut, then an [`io::ErrorKind::UnexpectedEof`] error.

use std::io::{self, Read};
use std::ops::Range;

use flate2::{Crc, Decompress, FlushDecompress, Status};

/// The first bytes of every gzip member (magic, then method 8: deflate).
pub const MAGIC: [u8; 3] = [0x1f, 0x8b, 0x08];

const INPUT_BUFFER: usize = 256 * 1024;

/// Why a member's bytes cannot be trusted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Damage {
    /// The trailer's CRC-32 or length does not match the inflated bytes.
    Checksum,
    /// The deflate data (or the header) is invalid: what it says.
    Corrupt(String),
    /// Bytes after a member that do not start another one.
    Garbage,
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Damage::Checksum => f.write_str("failed its CRC check"),
            Damage::Corrupt(why) => write!(f, "is corrupt ({why})"),
            Damage::Garbage => f.write_str("is not gzip data"),
        }
    }
}

/// A gzip member whose bytes cannot be trusted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadMember {
    /// Its number in the file, from 1.
    pub number: u64,
    /// Its bytes in the stored (compressed) file.
    pub stored: Range<u64>,
    /// The decompressed bytes it produced (their lines are rejected).
    pub decompressed: Range<u64>,
    /// What is wrong with it.
    pub damage: Damage,
}

impl BadMember {
    /// The same damage found again (on another read of the same input): the same member,
    /// the same decompressed bytes, the same fault. (Where reading resumed after it may be
    /// known later than the damage itself.)
    pub fn same_as(&self, other: &BadMember) -> bool {
        self.number == other.number && self.decompressed == other.decompressed && self.damage == other.damage
    }

    /// One sentence for the report.
    pub fn describe(&self) -> String {
        match self.damage {
            Damage::Garbage => format!(
                "bytes {}–{} of the file, after gzip member {}, are not gzip data",
                self.stored.start,
                self.stored.end,
                self.number - 1
            ),
            _ => format!(
                "gzip member {} (bytes {}–{} of the file) {}",
                self.number, self.stored.start, self.stored.end, self.damage
            ),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// At the start of a member (or at the end of the input).
    Header,
    /// Inflating a member's deflate data.
    Body,
    /// Reading a member's trailer.
    Trailer,
    /// Looking for the next member's magic after damage.
    Resync,
    /// Nothing more to read.
    Done,
}

/// Inflates concatenated gzip members, verifying each (see the module docs).
pub struct MemberReader<R> {
    inner: R,
    buf: Box<[u8]>,
    pos: usize,
    len: usize,
    eof: bool,
    inflate: Decompress,
    crc: Crc,
    state: State,
    /// Stored bytes consumed so far.
    consumed: u64,
    /// Decompressed bytes returned so far.
    produced: u64,
    /// Where the current member started: stored and decompressed offsets.
    member_start: (u64, u64),
    members: u64,
    bad: Vec<BadMember>,
    /// Set once the input ended inside a member.
    truncated: Option<String>,
}

impl<R: Read> MemberReader<R> {
    /// A reader over the stored bytes of a gzip file.
    pub fn new(inner: R) -> MemberReader<R> {
        MemberReader {
            inner,
            buf: vec![0; INPUT_BUFFER].into_boxed_slice(),
            pos: 0,
            len: 0,
            eof: false,
            inflate: Decompress::new(false),
            crc: Crc::new(),
            state: State::Header,
            consumed: 0,
            produced: 0,
            member_start: (0, 0),
            members: 0,
            bad: Vec::new(),
            truncated: None,
        }
    }

    /// Members seen so far (good or bad).
    pub fn members(&self) -> u64 {
        self.members
    }

    /// The members found damaged so far.
    pub fn bad_members(&self) -> &[BadMember] {
        &self.bad
    }

    /// Stored bytes consumed so far.
    pub fn stored_offset(&self) -> u64 {
        self.consumed
    }

    /// Decompressed bytes returned so far.
    pub fn decompressed_offset(&self) -> u64 {
        self.produced
    }

    /// Why the input ended early, once it has.
    pub fn truncated(&self) -> Option<&str> {
        self.truncated.as_deref()
    }

    /// Makes at least `n` bytes available at `buf[pos..]` unless the input ends first;
    /// returns how many are.
    fn fill(&mut self, n: usize) -> io::Result<usize> {
        while self.len - self.pos < n && !self.eof {
            if self.pos > 0 {
                self.buf.copy_within(self.pos..self.len, 0);
                self.len -= self.pos;
                self.pos = 0;
            }
            match self.inner.read(&mut self.buf[self.len..]) {
                Ok(0) => self.eof = true,
                Ok(k) => self.len += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(self.len - self.pos)
    }

    fn consume(&mut self, n: usize) {
        self.pos += n;
        self.consumed += n as u64;
    }

    fn record(&mut self, damage: Damage) {
        self.bad.push(BadMember {
            number: self.members,
            stored: self.member_start.0..self.consumed,
            decompressed: self.member_start.1..self.produced,
            damage,
        });
    }

    fn truncate(&mut self) -> io::Error {
        let msg = format!(
            "gzip stream truncated: the file ends inside gzip member {} (at byte {})",
            self.members, self.consumed
        );
        self.truncated = Some(msg.clone());
        self.state = State::Done;
        io::Error::new(io::ErrorKind::UnexpectedEof, msg)
    }

    /// Reads a member header. `Ok(false)` at the end of the input; a header that is not
    /// one moves to [`State::Resync`].
    fn header(&mut self) -> io::Result<bool> {
        if self.fill(1)? == 0 {
            self.state = State::Done;
            return Ok(false);
        }
        self.members += 1;
        self.member_start = (self.consumed, self.produced);
        let have = self.fill(10)?;
        let head = &self.buf[self.pos..self.pos + have.min(10)];
        if head.len() >= 3 && head[..3] != MAGIC || head.len() < 3 && !MAGIC.starts_with(head) {
            // Not a member: garbage after the last one (or where damage left us).
            self.consume(1);
            self.state = State::Resync;
            return Ok(true);
        }
        if have < 10 {
            return Err(self.truncate());
        }
        let flags = self.buf[self.pos + 3];
        let mut at = 10;
        if flags & 0x04 != 0 {
            // FEXTRA: two length bytes, then that many.
            if self.fill(at + 2)? < at + 2 {
                return Err(self.truncate());
            }
            let xlen = usize::from(u16::from_le_bytes([self.buf[self.pos + at], self.buf[self.pos + at + 1]]));
            at += 2 + xlen;
        }
        for flag in [0x08, 0x10] {
            // FNAME, FCOMMENT: zero-terminated.
            if flags & flag != 0 {
                loop {
                    if self.fill(at + 1)? < at + 1 {
                        return Err(self.truncate());
                    }
                    at += 1;
                    if self.buf[self.pos + at - 1] == 0 {
                        break;
                    }
                    if at > INPUT_BUFFER / 2 {
                        // A name that long is not a gzip header.
                        self.consume(1);
                        self.record(Damage::Corrupt("invalid gzip header".into()));
                        self.state = State::Resync;
                        return Ok(true);
                    }
                }
            }
        }
        if flags & 0x02 != 0 {
            at += 2; // FHCRC
        }
        if self.fill(at)? < at {
            return Err(self.truncate());
        }
        self.consume(at);
        self.inflate.reset(false);
        self.crc.reset();
        self.state = State::Body;
        Ok(true)
    }

    /// Inflates into `out`; returns the bytes written (0 once the member's data ended).
    fn body(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            let avail = self.fill(1)?;
            let (in0, out0) = (self.inflate.total_in(), self.inflate.total_out());
            let status = self.inflate.decompress(&self.buf[self.pos..self.pos + avail], out, FlushDecompress::None);
            let used = (self.inflate.total_in() - in0) as usize;
            let written = (self.inflate.total_out() - out0) as usize;
            self.consume(used);
            self.crc.update(&out[..written]);
            self.produced += written as u64;
            match status {
                Ok(Status::StreamEnd) => {
                    self.state = State::Trailer;
                    return Ok(written);
                }
                Ok(_) if written > 0 => return Ok(written),
                Ok(_) if avail == 0 => return Err(self.truncate()),
                Ok(_) if used > 0 => {}
                // No progress with input left: the decoder is stuck on damaged data.
                Ok(_) => return self.corrupt("deflate data ends without its end block".into(), written),
                Err(e) => return self.corrupt(e.to_string(), written),
            }
        }
    }

    fn corrupt(&mut self, why: String, written: usize) -> io::Result<usize> {
        self.record(Damage::Corrupt(why));
        self.state = State::Resync;
        Ok(written)
    }

    fn trailer(&mut self) -> io::Result<()> {
        if self.fill(8)? < 8 {
            return Err(self.truncate());
        }
        let t = &self.buf[self.pos..self.pos + 8];
        let crc = u32::from_le_bytes([t[0], t[1], t[2], t[3]]);
        let size = u32::from_le_bytes([t[4], t[5], t[6], t[7]]);
        self.consume(8);
        if crc != self.crc.sum() || size != self.crc.amount() {
            self.record(Damage::Checksum);
        }
        self.state = State::Header;
        Ok(())
    }

    /// Skips to the next member's magic bytes (or the end), recording the skipped
    /// bytes as garbage when they did not belong to a damaged member.
    fn resync(&mut self) -> io::Result<()> {
        let damaged_member = self.bad.last().is_some_and(|b| b.number == self.members);
        loop {
            let avail = self.fill(MAGIC.len())?;
            if avail < MAGIC.len() {
                self.consume(avail);
                break;
            }
            let window = &self.buf[self.pos..self.pos + avail];
            match memchr::memmem::find(window, &MAGIC) {
                Some(i) => {
                    self.consume(i);
                    break;
                }
                None => self.consume(avail - (MAGIC.len() - 1)),
            }
        }
        if !damaged_member {
            self.record(Damage::Garbage);
        } else if let Some(b) = self.bad.last_mut() {
            b.stored.end = self.consumed;
        }
        self.state = State::Header;
        Ok(())
    }
}

impl<R: Read> Read for MemberReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            match self.state {
                State::Done => return Ok(0),
                State::Header => {
                    self.header()?;
                }
                State::Body => {
                    let n = self.body(out)?;
                    if n > 0 {
                        return Ok(n);
                    }
                }
                State::Trailer => self.trailer()?,
                State::Resync => self.resync()?,
            }
        }
    }
}

/// libdeflate's whole-buffer gzip decompressor, kept for the buffers of one reader:
/// every member of a buffer inflated in one call, each verified by its CRC-32 and length.
/// For data held in memory whole (an input file, a Parquet page); [`MemberReader`] is
/// for streams and for saying which member is damaged.
pub struct Inflater(std::ptr::NonNull<libdeflate_sys::libdeflate_decompressor>);

// SAFETY: a libdeflate decompressor is plain memory with no tie to the thread that made
// it; `&mut self` keeps it to one thread at a time.
unsafe impl Send for Inflater {}

impl Drop for Inflater {
    fn drop(&mut self) {
        // SAFETY: allocated by libdeflate_alloc_decompressor, freed once.
        unsafe { libdeflate_sys::libdeflate_free_decompressor(self.0.as_ptr()) }
    }
}

impl Inflater {
    /// A decompressor; `None` only when its few kilobytes cannot be allocated.
    pub fn new() -> Option<Inflater> {
        // SAFETY: plain allocation; null is checked.
        std::ptr::NonNull::new(unsafe { libdeflate_sys::libdeflate_alloc_decompressor() }).map(Inflater)
    }

    /// Appends the inflated bytes of every gzip member of `data` to `out`. `false` when
    /// a member is damaged (bad deflate data, CRC or length), when `data` is empty or not
    /// gzip, or when the output would pass `limit` bytes; `out` then holds an unspecified
    /// prefix.
    pub fn gunzip(&mut self, data: &[u8], out: &mut Vec<u8>, limit: usize) -> bool {
        use libdeflate_sys::*;
        if data.is_empty() {
            return false;
        }
        let mut pos = 0;
        while pos < data.len() {
            let rest = &data[pos..];
            let room = limit.saturating_sub(out.len());
            // The last member's trailer holds its length (modulo 2^32): exact for a buffer of
            // one member, a first guess otherwise (doubled while the output does not fit).
            // A forged length reserves at most 64 times the data (or 64 KiB), and only bytes
            // really inflated are written.
            let trailer = rest
                .len()
                .checked_sub(4)
                .map_or(0, |i| u32::from_le_bytes([rest[i], rest[i + 1], rest[i + 2], rest[i + 3]]) as usize);
            let cap = rest.len().saturating_mul(64).max(1 << 16);
            let mut avail = trailer.min(cap).max(rest.len().saturating_mul(4)).max(64).min(room);
            loop {
                out.reserve(avail);
                let (mut used_in, mut produced) = (0usize, 0usize);
                // SAFETY: the input slice and the reserved spare capacity of `out` are valid for
                // the lengths passed; libdeflate writes at most `avail` bytes and reports how many.
                let res = unsafe {
                    libdeflate_gzip_decompress_ex(
                        self.0.as_ptr(),
                        rest.as_ptr().cast(),
                        rest.len(),
                        out.as_mut_ptr().add(out.len()).cast(),
                        avail,
                        &mut used_in,
                        &mut produced,
                    )
                };
                if res == libdeflate_result_LIBDEFLATE_SUCCESS {
                    // SAFETY: libdeflate initialised `produced` bytes of spare capacity.
                    unsafe { out.set_len(out.len() + produced) };
                    pos += used_in;
                    break;
                }
                if res != libdeflate_result_LIBDEFLATE_INSUFFICIENT_SPACE || avail >= room {
                    return false;
                }
                avail = avail.saturating_mul(2).min(room);
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn text(lines: std::ops::Range<u32>) -> Vec<u8> {
        lines.map(|i| format!("line {i} {}\n", i.wrapping_mul(2_654_435_761))).collect::<String>().into_bytes()
    }

    /// Reads everything, in small reads so that every state is left and resumed.
    fn read_all(data: &[u8], chunk: usize) -> (Vec<u8>, io::Result<()>, MemberReader<&[u8]>) {
        let mut r = MemberReader::new(data);
        let mut out = Vec::new();
        let mut buf = vec![0; chunk];
        let res = loop {
            match r.read(&mut buf) {
                Ok(0) => break Ok(()),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) => break Err(e),
            }
        };
        (out, res, r)
    }

    #[test]
    fn reads_every_member_and_verifies_each() {
        let (a, b) = (text(0..2000), text(2000..2100));
        let mut data = gz(&a);
        data.extend(gz(&b));
        data.extend(gz(b""));
        for chunk in [1, 7, 4096, 1 << 20] {
            let (out, res, r) = read_all(&data, chunk);
            res.unwrap();
            assert_eq!(out, [a.clone(), b.clone()].concat());
            assert_eq!(r.members(), 3);
            assert!(r.bad_members().is_empty());
            assert_eq!(r.stored_offset(), data.len() as u64);
        }
        // Headers with a name, a comment and extra fields.
        let mut e = flate2::GzBuilder::new()
            .filename("x.log")
            .comment("c")
            .extra(vec![1, 2, 3])
            .write(Vec::new(), Compression::fast());
        e.write_all(&a).unwrap();
        let (out, res, _) = read_all(&e.finish().unwrap(), 100);
        res.unwrap();
        assert_eq!(out, a);
    }

    #[test]
    fn a_member_that_fails_its_crc_is_named_and_the_next_is_read() {
        let (a, b) = (text(0..3000), text(3000..3100));
        let first = gz(&a);
        let mut data = first.clone();
        data.extend(gz(&b));
        // The CRC of the first member.
        let at = first.len() - 8;
        data[at] ^= 0x55;
        let (out, res, r) = read_all(&data, 4096);
        res.unwrap();
        assert_eq!(out, [a.clone(), b].concat(), "every byte is still returned, to be rejected");
        assert_eq!(
            r.bad_members(),
            [BadMember {
                number: 1,
                stored: 0..first.len() as u64,
                decompressed: 0..a.len() as u64,
                damage: Damage::Checksum
            }]
        );
        assert_eq!(
            r.bad_members()[0].describe(),
            format!("gzip member 1 (bytes 0–{} of the file) failed its CRC check", first.len())
        );
    }

    #[test]
    fn a_flipped_byte_in_the_data_is_caught_by_the_crc_or_the_decoder() {
        let a = text(0..2500);
        let clean = gz(&a);
        let mut caught = 0;
        for at in (20..clean.len() - 8).step_by(clean.len() / 50) {
            let mut data = clean.clone();
            data[at] ^= 0x10;
            let (out, res, r) = read_all(&data, 4096);
            let bad = r.bad_members();
            if res.is_ok() && bad.is_empty() {
                // Only possible if the flip left the same bytes: never trust what differs.
                assert_eq!(out, a, "a flip at byte {at} went unnoticed");
                continue;
            }
            caught += 1;
            if let Some(b) = bad.first() {
                assert_eq!(b.number, 1);
                assert_eq!(b.decompressed.start, 0);
            }
        }
        assert!(caught >= 45, "{caught}");
    }

    #[test]
    fn a_truncated_file_returns_everything_before_the_cut() {
        let a = text(0..5000);
        let data = gz(&a);
        for cut in [data.len() / 3, data.len() / 2, data.len() - 9, data.len() - 1] {
            let (out, res, r) = read_all(&data[..cut], 4096);
            let e = res.unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
            assert!(e.to_string().starts_with("gzip stream truncated: the file ends inside gzip member 1"), "{e}");
            assert!(a.starts_with(&out));
            // All but the last few hundred bytes a decoder holds back at the cut.
            let expected = if cut >= data.len() - 8 { a.len() } else { a.len() * cut / data.len() };
            assert!(out.len() + 2048 >= expected.min(a.len()), "cut {cut}: {} of about {expected}", out.len());
            assert!(r.truncated().is_some());
        }
    }

    #[test]
    fn garbage_after_the_last_member_is_damage_not_silence() {
        let a = text(0..100);
        let mut data = gz(&a);
        let end = data.len() as u64;
        data.extend_from_slice(b"trailing junk");
        let (out, res, r) = read_all(&data, 64);
        res.unwrap();
        assert_eq!(out, a);
        assert_eq!(r.bad_members().len(), 1);
        assert_eq!(r.bad_members()[0].damage, Damage::Garbage);
        assert_eq!(r.bad_members()[0].stored, end..data.len() as u64);
        assert!(r.bad_members()[0].decompressed.is_empty());
    }

    #[test]
    fn after_invalid_data_the_next_member_is_found_again() {
        let (a, b) = (text(0..3000), text(3000..3500));
        let first = gz(&a);
        let mut data = first.clone();
        data.extend(gz(&b));
        // Wreck the middle of the first member's deflate data.
        for x in &mut data[first.len() / 2..first.len() / 2 + 64] {
            *x = 0xff;
        }
        let (out, res, r) = read_all(&data, 4096);
        res.unwrap();
        assert!(out.ends_with(&b), "the second member is read whole");
        let bad = r.bad_members();
        assert_eq!(bad.len(), 1, "{bad:?}");
        assert_eq!(bad[0].number, 1);
        assert_eq!(bad[0].stored.start, 0);
        assert!(bad[0].stored.end <= first.len() as u64 + 1);
        assert_eq!(bad[0].decompressed, 0..(out.len() - b.len()) as u64);
    }

    #[test]
    fn the_inflater_reads_every_member_and_refuses_damage_and_excess() {
        let (a, b) = (text(0..5_000), vec![0u8; 300_000]);
        let mut both = gz(&a);
        both.extend(gz(&b));
        let mut inflater = Inflater::new().unwrap();
        let mut out = b"kept ".to_vec();
        assert!(inflater.gunzip(&both, &mut out, usize::MAX));
        assert_eq!(out, [&b"kept "[..], &a, &b].concat(), "members appended in order");
        // A forged length in the last trailer only misleads the first guess.
        let mut forged = both.clone();
        let n = forged.len();
        forged[n - 4..].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(!inflater.gunzip(&forged, &mut Vec::new(), usize::MAX), "the length is checked");
        forged[n - 4..].copy_from_slice(&7u32.to_le_bytes());
        assert!(!inflater.gunzip(&forged, &mut Vec::new(), usize::MAX));
        let mut flipped = both.clone();
        flipped[40] ^= 1;
        assert!(!inflater.gunzip(&flipped, &mut Vec::new(), usize::MAX), "a flipped bit");
        assert!(!inflater.gunzip(&both[..n - 1], &mut Vec::new(), usize::MAX), "a cut");
        assert!(!inflater.gunzip(&[], &mut Vec::new(), usize::MAX), "nothing");
        assert!(!inflater.gunzip(&a, &mut Vec::new(), usize::MAX), "not gzip");
        assert!(!inflater.gunzip(&both, &mut Vec::new(), a.len() + b.len() - 1), "past the limit");
        let mut exact = Vec::new();
        assert!(inflater.gunzip(&both, &mut exact, a.len() + b.len()));
        assert_eq!(exact.len(), a.len() + b.len());
    }
}
