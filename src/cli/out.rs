//! Standard output and standard error for every command.
//!
//! All output goes through here. A write to a closed pipe (`flowlake … | head -1`)
//! marks the pipe closed and fails, so the command stops; `main` then ends quietly
//! with exit 0, as `rg` does, whatever error that write became on its way up
//! (a DataFusion or CSV error wrapping it, say). Writes to standard error never
//! fail a command: there is nowhere left to report that they could not be made.

use std::fmt;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use flowlake::{Error, Result};

static CLOSED: AtomicBool = AtomicBool::new(false);

/// True once a write to standard output or error found its pipe closed.
pub fn closed() -> bool {
    CLOSED.load(Ordering::SeqCst)
}

fn mark<T>(r: io::Result<T>) -> io::Result<T> {
    if let Err(e) = &r
        && e.kind() == io::ErrorKind::BrokenPipe
    {
        CLOSED.store(true, Ordering::SeqCst);
    }
    r
}

/// Standard output as a writer that marks a closed pipe.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stdout;

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        mark(io::stdout().lock().write(buf))
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        mark(io::stdout().lock().write_all(buf))
    }
    fn flush(&mut self) -> io::Result<()> {
        mark(io::stdout().lock().flush())
    }
}

/// Writes to standard output; an error (a closed pipe above all) stops the command.
pub fn out(args: fmt::Arguments<'_>) -> Result<()> {
    let mut o = io::stdout().lock();
    mark(o.write_fmt(args).and_then(|()| o.flush())).map_err(|e| Error::io("write", "standard output", e))
}

/// Writes to standard error; a failed write is dropped.
pub fn err(args: fmt::Arguments<'_>) {
    let _ = mark(io::stderr().lock().write_fmt(args));
}

/// `println!` to standard output through [`out`]: evaluates to a `Result`.
macro_rules! outln {
    ($($arg:tt)*) => { $crate::cli::out::out(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `eprintln!` through [`err`]: never panics, never fails.
macro_rules! errln {
    ($($arg:tt)*) => { $crate::cli::out::err(format_args!("{}\n", format_args!($($arg)*))) };
}

pub(crate) use {errln, outln};

/// `n` and a noun, in the plural unless `n` is 1: "1 problem", "3 problems".
pub fn counted(n: u64, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}
