use std::process::ExitCode;

fn main() -> ExitCode {
    let tools = anklume::ToolPath::from_env();
    let cli = anklume::parse_from(anklume::command(&tools), std::env::args_os())
        .unwrap_or_else(|error| error.exit());
    // exec returns only when the tool could not be started.
    anklume::exec(&cli, &tools).report()
}
