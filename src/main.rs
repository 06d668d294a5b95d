//! The `auditbridge` command: parses the command line and hands over to [`auditbridge::cli`].

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = auditbridge::cli::Cli::parse();
    auditbridge::cli::init_logging(&cli);
    auditbridge::cli::private_files();
    if cli.command.exports() {
        auditbridge::heap::bound();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(auditbridge::cli::execute(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", auditbridge::cli::error_chain(&e));
            ExitCode::FAILURE
        }
    }
}
