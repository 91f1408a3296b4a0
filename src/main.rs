//! The `cairn` binary: everything is in the library's `cli` module.

fn main() -> std::process::ExitCode {
    cairn::cli::main()
}
