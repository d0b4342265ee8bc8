use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = anklume_disp::Cli::parse_or_exit();
    anklume_common::run("anklume-disp", || anklume_disp::run(&cli))
}
