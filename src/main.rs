//! The `flowlake` binary: parse the command line, run it, map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;

mod cli;

fn main() -> ExitCode {
    let args = match cli::Cli::try_parse() {
        Ok(a) => a,
        Err(e) => {
            // --help and --version print to stdout and succeed; usage errors exit 2.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match cli::run(args) {
        Ok(code) => ExitCode::from(code),
        // A closed pipe (`flowlake … | head -1`) ends the command quietly, whatever error it became.
        Err(_) if cli::out::closed() => ExitCode::SUCCESS,
        Err(e) => {
            cli::out::err(format_args!("flowlake: {e}\n"));
            ExitCode::from(e.exit_code())
        }
    }
}
